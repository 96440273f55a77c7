// slice_bounds: a length field read from a packet header is trusted and
// used to re-slice the payload buffer beyond its capacity.
package main

import (
	"crashlab/lab"
)

type Packet struct {
	hdr     [2]byte
	payload []byte
}

func (p *Packet) body() []byte {
	n := int(p.hdr[1])
	return p.payload[:n] // crashlab:culprit main.(*Packet).body
}

func decode(raw []byte) *Packet {
	buf := make([]byte, len(raw)-2, len(raw)-2)
	copy(buf, raw[2:])
	return &Packet{hdr: [2]byte{raw[0], raw[1]}, payload: buf}
}

func main() {
	lab.Goroutine("main")
	p := decode([]byte{0x01, 0x05, 'a', 'b', 'c'})
	lab.Fact("body", string(p.body()))
}
