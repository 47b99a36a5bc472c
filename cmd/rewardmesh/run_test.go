package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the program and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runWith(ctx context.Context, args ...string) (string, string, error) {
	var out, errOut syncBuffer
	err := run(ctx, args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestUsageAndBadArguments(t *testing.T) {
	out, _, err := runWith(context.Background(), "help")
	if err != nil || !strings.Contains(out, "serve") || !strings.Contains(out, "bench") {
		t.Fatalf("help: %v\n%s", err, out)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"serve"}, "name the service"},
		{[]string{"serve", "math"}, "--nats URL is required"},
		{[]string{"serve", "trainer", "--steps", "3", "--out", "x"}, "--nats URL is required"},
		{[]string{"serve", "trainer", "--nats", "nats://127.0.0.1:1", "--steps", "0"}, "steps"},
		{[]string{"train", "--cascade", "no-such-cascade.json", "--out", "x"}, "read cascade"},
		{[]string{"up", "--log-level", "loud"}, "--log-level"},
		{[]string{"bench"}, "name what to measure"},
		{[]string{"bench", "nope"}, "unknown target"},
		{[]string{"bench", "load", "--server", "http://10.1.2.3:8080"}, "only sent to this machine"},
		{[]string{"bench", "load", "--clients", "0"}, "--clients"},
		{[]string{"images", "pull"}, "the subcommands are `build` and `list`"},
		{[]string{"serve", "chess", "--nats", "nats://127.0.0.1:1"}, "unknown service"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, _, err := runWith(ctx, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestRequireLoopback(t *testing.T) {
	for url, ok := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://127.9.9.9": true, "http://localhost:1": true, "http://[::1]:80": true,
		"http://10.0.0.1": false, "http://192.168.1.1:8080": false, "http://example.com": false, "not a url": false,
	} {
		if err := requireLoopback(url); (err == nil) != ok {
			t.Errorf("requireLoopback(%q) = %v", url, err)
		}
	}
}

// The whole program, started as main starts it: `up` serves until its context
// ends, then shuts down and returns.
func TestUpRunsUntilCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := runWith(ctx, "up", "--http", addr, "--services", "math,gateway", "--log-level", "error")
		done <- err
	}()
	var body map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Post("http://"+addr+"/v1/math/verify", "application/json",
			strings.NewReader(`{"items":[{"gold":"2","pred":"\\boxed{2}"}]}`))
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fmt.Sprint(body["results"]) == "" || !strings.Contains(fmt.Sprint(body["results"]), "correct:true") {
		t.Fatalf("verify through up: %v", body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("up returned %v after its context ended", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("up did not return after its context ended")
	}
}
