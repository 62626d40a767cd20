// Command hello is the benchmark's ceiling: a net/http server that reads a view's JSON body and
// answers 201 without touching a database, so `make bench` can measure what this machine's HTTP
// stack and load generator alone allow.
package main

import (
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8089", "host:port to listen on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("POST /api/views", func(w http.ResponseWriter, r *http.Request) {
		var v struct {
			Path     string `json:"path"`
			Referrer string `json:"referrer"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 8<<10)).Decode(&v); err != nil || v.Path == "" {
			http.Error(w, "bad view", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"path": v.Path})
	})
	log.Fatal(http.ListenAndServe(*addr, mux))
}
