{% if cookiecutter._hc.language == "go" -%}
// Command healthcheck is the image's health probe: the runtime image has no shell or curl, so the
// engine runs this static binary. It exits 0 only when the URL answers 200 within three seconds.
package main

import (
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		os.Exit(2)
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(os.Args[1])
	if err != nil {
		os.Exit(1)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		os.Exit(1)
	}
}
{% endif -%}
