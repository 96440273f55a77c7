// nilmap_http_recovered: user-service whose UserService constructor forgot to
// make the cache map. A POST /v1/users request passes through eight
// middleware layers to UserHandler.create, which calls UserService.Save on
// the connection's goroutine. The write into the nil map panics, net/http's
// conn.serve recovers it and logs "http: panic serving ...: assignment to
// entry in nil map" with the goroutine's stack; the client sees the
// connection drop, and the process carries on and exits 0.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"crashlab/lab"
)

type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type UserService struct {
	mu    sync.Mutex
	cache map[string]*User
	log   *slog.Logger
}

// NewUserService builds the service. The cache map is never made: the
// make(map[string]*User) went missing when the constructor was refactored.
func NewUserService(log *slog.Logger) *UserService {
	return &UserService{log: log}
}

func (s *UserService) Save(u *User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache[u.ID] = u // crashlab:culprit main.(*UserService).Save
}

type UserHandler struct {
	svc *UserService
	log *slog.Logger
}

func (h *UserHandler) create(w http.ResponseWriter, r *http.Request) {
	lab.Goroutine("handler")
	var u User
	if err := json.NewDecoder(r.Body).Decode(&u); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	h.log.Info("creating user", "id", u.ID, "request_id", requestID(r.Context()))
	h.svc.Save(&u)
	w.WriteHeader(http.StatusCreated)
}

// ---- middleware ---------------------------------------------------------

type ctxKey int

const requestIDKey ctxKey = 0

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func withLogging(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(rec, r)
			log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
				"duration", time.Since(start).Round(time.Millisecond))
		})
	}
}

func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

func withTracing(service string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var span [8]byte
			rand.Read(span[:])
			w.Header().Set("Traceparent", "00-"+strings.Repeat("0", 32)+"-"+hex.EncodeToString(span[:])+"-01")
			next.ServeHTTP(w, r)
		})
	}
}

type metrics struct {
	requests atomic.Int64
	inflight atomic.Int64
}

func withMetrics(m *metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.requests.Add(1)
			m.inflight.Add(1)
			defer m.inflight.Add(-1)
			next.ServeHTTP(w, r)
		})
	}
}

type rateLimiter struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
	rate   float64
	burst  float64
}

func (l *rateLimiter) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

func withRateLimit(l *rateLimiter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !l.allow() {
				http.Error(w, "rate limited", http.StatusTooManyRequests)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func withAuth(tokens map[string]string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || tokens[tok] == "" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func withTimeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

type compressWriter struct {
	http.ResponseWriter
	encoding string
}

func (c *compressWriter) WriteHeader(code int) {
	if c.encoding != "" {
		c.Header().Set("Vary", "Accept-Encoding")
	}
	c.ResponseWriter.WriteHeader(code)
}

func withCompression(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &compressWriter{ResponseWriter: w}
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			cw.encoding = "gzip"
		}
		next.ServeHTTP(cw, r)
	})
}

func chain(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{
		// The container runtime stamps every line; no need for our own time.
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	lab.Goroutine("main")
	log.Info("starting user-service", "version", "1.8.2", "go", runtime.Version())
	svc := NewUserService(log)
	h := &UserHandler{svc: svc, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/users", h.create)
	handler := chain(mux,
		withLogging(log),
		withRequestID,
		withTracing("user-service"),
		withMetrics(&metrics{}),
		withRateLimit(&rateLimiter{rate: 100, burst: 100, tokens: 100, last: time.Now()}),
		withAuth(map[string]string{"tk_live_7f3a": "billing-api"}),
		withTimeout(5*time.Second),
		withCompression,
	)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Info("listening", "addr", ln.Addr().String())

	// Play the client: one request, as the billing API would send it.
	body := `{"id":"u-1042","email":"ada@example.com","name":"Ada Lovelace"}`
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/v1/users", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tk_live_7f3a")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "req-8c41e2f0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Printf("crashlab: fact client_error=%v\n", err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Printf("crashlab: fact status=%d\n", resp.StatusCode)
}
