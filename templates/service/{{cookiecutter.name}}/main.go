{% set hc = cookiecutter._hc -%}
{% if hc.with_app and hc.language == "go" -%}
// Command server is the HTTP entry point, with a /healthz endpoint used by the image's health check.
package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Secrets arrive as files (NAME_FILE points at /run/secrets/NAME), never as plain variables.
var secretFileVariables = []string{ {%- for name in hc.secret_env_names %}{{ name | tojson }}{% if not loop.last %}, {% endif %}{% endfor -%} }

func loadSecrets() map[string]string {
	secrets := make(map[string]string, len(secretFileVariables))
	for _, name := range secretFileVariables {
		data, err := os.ReadFile(os.Getenv(name))
		if err != nil {
			log.Fatalf("secret %s: %v", name, err)
		}
		secrets[name] = strings.TrimSpace(string(data))
	}
	return secrets
}

func main() {
	secrets := loadSecrets()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"service": {{ cookiecutter.name | tojson }}})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "secrets_loaded": len(secrets)})
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "{{ hc.port }}"
	}
	server := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = server.Shutdown(shutdown)
}
{% endif -%}
