// Command guest is the Spin component the spinhost end-to-end tests run.
// It is built with TinyGo (-target=wasi) against the Spin Go SDK v2, so it
// has exactly the ABI of the real spinport component.
package main

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	spinhttp "github.com/fermyon/spin/sdk/go/v2/http"
	"github.com/fermyon/spin/sdk/go/v2/kv"
	"github.com/fermyon/spin/sdk/go/v2/redis"
	"github.com/fermyon/spin/sdk/go/v2/variables"
)

// counter would count requests if instances were reused; Spin (and
// spinhost) give every request a fresh instance, so it is always 1.
var counter int

func init() {
	spinhttp.Handle(handle)
}

func main() {}

func handle(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch strings.TrimPrefix(r.Header.Get("spin-path-info"), "/") {
	case "kv/set":
		store, ok := openStore(w, q.Get("store"))
		if !ok {
			return
		}
		defer store.Close()
		value := []byte(q.Get("value"))
		if r.Method == http.MethodPost {
			value, _ = io.ReadAll(r.Body)
		}
		if err := store.Set(q.Get("key"), value); err != nil {
			http.Error(w, "set: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	case "kv/get":
		store, ok := openStore(w, q.Get("store"))
		if !ok {
			return
		}
		defer store.Close()
		v, err := store.Get(q.Get("key"))
		if err != nil {
			http.Error(w, "get: "+err.Error(), http.StatusNotFound)
			return
		}
		w.Write(v)
	case "kv/exists":
		store, ok := openStore(w, q.Get("store"))
		if !ok {
			return
		}
		defer store.Close()
		ok, err := store.Exists(q.Get("key"))
		if err != nil {
			http.Error(w, "exists: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, ok)
	case "kv/delete":
		store, ok := openStore(w, q.Get("store"))
		if !ok {
			return
		}
		defer store.Close()
		if err := store.Delete(q.Get("key")); err != nil {
			http.Error(w, "delete: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	case "kv/keys":
		store, ok := openStore(w, q.Get("store"))
		if !ok {
			return
		}
		defer store.Close()
		keys, err := store.GetKeys()
		if err != nil {
			http.Error(w, "keys: "+err.Error(), http.StatusInternalServerError)
			return
		}
		sort.Strings(keys)
		fmt.Fprint(w, strings.Join(keys, ","))
	case "var":
		v, err := variables.Get(q.Get("name"))
		if err != nil {
			http.Error(w, "variable: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, v)
	case "outbound":
		req, err := http.NewRequest(q.Get("method"), q.Get("url"), strings.NewReader(q.Get("body")))
		if err != nil {
			http.Error(w, "request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if q.Get("method") == "" {
			req.Method = http.MethodGet
		}
		req.Header.Set("X-Guest", "spinhost-test")
		resp, err := spinhttp.Send(req)
		if err != nil {
			http.Error(w, "outbound: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(w, "%d %s %s", resp.StatusCode, resp.Header.Get("X-Upstream"), body)
	case "redis/incr":
		n, err := redis.NewClient(q.Get("addr")).Incr(q.Get("key"))
		if err != nil {
			http.Error(w, "redis: "+err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, n)
	case "redis/ops":
		// Every other outbound-redis function, to check their layouts.
		c := redis.NewClient(q.Get("addr"))
		k, set := q.Get("key"), q.Get("key")+":set"
		var out []string
		note := func(what string, v any, err error) {
			if err != nil {
				v = "error " + err.Error()
			}
			out = append(out, fmt.Sprintf("%s=%v", what, v))
		}
		note("set", "ok", c.Set(k, []byte("v1")))
		v, err := c.Get(k)
		note("get", string(v), err)
		n, err := c.Del(k, k+":absent")
		note("del", n, err)
		v, err = c.Get(k)
		note("get-missing", fmt.Sprintf("%q", v), err)
		n, err = c.Sadd(set, "a", "b", "c")
		note("sadd", n, err)
		n, err = c.Srem(set, "a")
		note("srem", n, err)
		members, err := c.Smembers(set)
		sort.Strings(members)
		note("smembers", strings.Join(members, "+"), err)
		note("publish", "ok", c.Publish("chan", []byte("hello")))
		fmt.Fprint(w, strings.Join(out, " "))
	case "kv/many":
		// Opens n stores without closing them (the table holds 256).
		n, _ := strconv.Atoi(q.Get("n"))
		for i := 0; i < n; i++ {
			if _, err := kv.OpenStore("default"); err != nil {
				fmt.Fprintf(w, "open %d: %v", i, err)
				return
			}
		}
		fmt.Fprintf(w, "opened %d", n)
	case "redis/execute":
		args := []any{}
		for _, a := range q["arg"] {
			args = append(args, a)
		}
		res, err := redis.NewClient(q.Get("addr")).Execute(q.Get("cmd"), args...)
		if err != nil {
			http.Error(w, "redis: "+err.Error(), http.StatusBadGateway)
			return
		}
		parts := []string{}
		for _, r := range res {
			switch v := r.Val.(type) {
			case []byte:
				parts = append(parts, r.Kind.String()+":"+string(v))
			default:
				parts = append(parts, fmt.Sprintf("%s:%v", r.Kind, v))
			}
		}
		fmt.Fprint(w, strings.Join(parts, ","))
	case "counter":
		counter++
		fmt.Fprint(w, counter)
	case "busy":
		// Burns CPU for ms milliseconds. (time.Sleep would panic: TinyGo
		// 0.30 cannot block inside an exported function, in Spin too.)
		ms, _ := strconv.Atoi(q.Get("ms"))
		for start := time.Now(); time.Since(start) < time.Duration(ms)*time.Millisecond; {
		}
		fmt.Fprint(w, q.Get("id"))
	case "echo":
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Uri", r.RequestURI)
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Remote", r.RemoteAddr)
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	case "headers":
		names := []string{}
		for k := range r.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(w, "%s=%s\n", strings.ToLower(k), strings.Join(r.Header[k], "|"))
		}
	case "log":
		fmt.Println("hello from the guest")
		fmt.Fprint(w, "logged")
	case "trap":
		panic("guest asked to trap")
	default:
		http.Error(w, "no such test route: "+r.URL.Path, http.StatusNotFound)
	}
}

func openStore(w http.ResponseWriter, name string) (*kv.Store, bool) {
	if name == "" {
		name = "default"
	}
	s, err := kv.OpenStore(name)
	if err != nil {
		http.Error(w, "open: "+err.Error(), http.StatusForbidden)
		return nil, false
	}
	return s, true
}
