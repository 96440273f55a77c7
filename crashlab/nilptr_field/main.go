// nilptr_field: a nil *Config is dereferenced to read a field at offset
// 0x18 (Timeout, after a 16-byte string and an int), so the fault address
// in the "[signal SIGSEGV ... addr=0x18 ...]" line is the field offset,
// not 0x0.
package main

import (
	"os"
	"time"

	"crashlab/lab"
)

type Config struct {
	Name    string        // offset 0x00
	Port    int           // offset 0x10
	Timeout time.Duration // offset 0x18
}

type Server struct {
	cfg *Config
}

// loadConfig returns nil when the config file is missing, and the caller
// forgets to check.
func loadConfig(path string) *Config {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	return &Config{Name: "api", Port: 8080, Timeout: 5 * time.Second}
}

func (s *Server) requestTimeout() time.Duration {
	return s.cfg.Timeout // crashlab:culprit main.(*Server).requestTimeout
}

func main() {
	lab.Goroutine("main")
	s := &Server{cfg: loadConfig("/etc/api/config.json")}
	lab.Fact("timeout", s.requestTimeout())
}
