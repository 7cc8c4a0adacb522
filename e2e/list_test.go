package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spinport/spinport/spinhost"
)

// On Redis, spinport reads a page of a list in one script (kv.IndexReader)
// instead of a GET per slot and per record. This lists apps and revisions
// through the API under both outbound-Redis reply behaviours, with the
// index states that races and removals leave behind written straight into
// Redis, and checks every page (items and cursor) against kv listing the
// same keys one at a time, as spinport does on Spin's default store. It also counts the
// Redis commands each list request sends (MONITOR; commands a script runs
// are not round trips).
func TestListPagesRedis(t *testing.T) {
	requireSpinport(t)
	for _, mode := range []string{spinhost.RedisRepliesSpin34, spinhost.RedisRepliesSpin35} {
		t.Run(mode, func(t *testing.T) {
			rs := startRedisServer(t)
			h := startHost(t, hostOptions{Redis: rs, Name: mode, RedisReplies: mode})
			admin := h.admin(t)
			ctx := context.Background()
			const base = "/api/v1/tenants/acme"
			const apps = "sp/t/acme/apps"
			admin.must(201, "POST", "/api/v1/tenants", `{"slug":"acme","quotas":{"maxApps":100,"maxReplicasPerApp":5,"maxTotalReplicas":500}}`)
			create := func(from, to int) {
				for i := from; i < to; i++ {
					admin.must(201, "POST", base+"/apps", fmt.Sprintf(`{"name":"app-%02d"}`, i))
				}
			}
			rc := rs.Client
			create(0, 20)
			admin.must(204, "DELETE", base+"/apps/app-03", nil)
			admin.must(204, "DELETE", base+"/apps/app-11", nil)
			// What races leave: a slot that lost the name to another, a
			// creator between slot and record, a number taken but no slot.
			seq := rc.Incr(ctx, apps+"/seq").Val()
			rc.Set(ctx, apps+"/slot/"+strconv.FormatInt(seq, 10), "app-05", 0)
			seq = rc.Incr(ctx, apps+"/seq").Val()
			rc.Set(ctx, apps+"/slot/"+strconv.FormatInt(seq, 10), "pending", 0)
			rc.Incr(ctx, apps+"/seq")
			// A removal in progress (reads as absent) and one whose remover
			// died (reads as the record again).
			for name, until := range map[string]int64{"app-07": time.Now().Unix() + 3600, "app-09": 1} {
				rec := rc.Get(ctx, apps+"/item/"+name).Val()
				if !strings.HasPrefix(rec, `{"seq":`) {
					t.Fatalf("%s: %s", name, rec)
				}
				i := strings.Index(rec, `,"doc":`)
				rc.Set(ctx, apps+"/item/"+name, rec[:i]+`,"removing":`+strconv.FormatInt(until, 10)+rec[i:], 0)
			}
			for i := 0; i < 6; i++ { // a run of gaps longer than a page of 1 may probe
				rc.Incr(ctx, apps+"/seq")
			}
			create(20, 28)
			for i := 1; i <= 5; i++ {
				admin.must(201, "POST", base+"/apps/app-01/deployments", fmt.Sprintf(`{"image":"ghcr.io/acme/web:v%d"}`, i))
			}
			rc.Incr(ctx, "sp/t/acme/a/app-01/rev/n") // a revision number whose writer failed
			admin.must(201, "POST", base+"/apps/app-01/deployments", `{"image":"ghcr.io/acme/web:v6"}`)

			var want []string
			for i := 0; i < 28; i++ {
				if i != 3 && i != 11 && i != 7 {
					want = append(want, fmt.Sprintf("app-%02d", i))
				}
			}
			mon := startMonitor(t, rs)
			for _, limit := range []int{1, 4, 50} {
				var names []string
				cursor := ""
				for pages := 0; pages < 100; pages++ {
					u := base + "/apps?limit=" + strconv.Itoa(limit)
					if cursor != "" {
						u += "&cursor=" + cursor
					}
					r := admin.must(200, "GET", u, nil)
					cmds := mon.next(t)
					got := r.strs("items.#.name")
					names = append(names, got...)
					next := ""
					if r.get("nextCursor") != nil {
						next = r.str("nextCursor")
					}
					wantNames, wantNext := listByKey(t, rs, apps, cursor, limit)
					mon.next(t) // the reference's own reads
					if strings.Join(got, ",") != strings.Join(wantNames, ",") || next != wantNext {
						t.Errorf("limit %d cursor %q: %v next %q; listed key by key: %v next %q", limit, cursor, got, next, wantNames, wantNext)
					}
					if len(got) > 0 && (len(cmds) < 1 || len(cmds) > 4) {
						t.Errorf("limit %d cursor %q: %d Redis commands, want a small constant: %v", limit, cursor, len(cmds), cmds)
					}
					if limit == 50 && pages == 0 {
						t.Logf("%s: list apps (limit 50, %d items): %d Redis commands: %v", mode, len(got), len(cmds), cmds)
					}
					if next == "" {
						break
					}
					cursor = next
				}
				if strings.Join(names, ",") != strings.Join(want, ",") {
					t.Errorf("limit %d: pages list %v, want %v", limit, names, want)
				}
			}

			// Revisions, newest first: the Log's pages.
			const revs = "sp/t/acme/a/app-01/rev"
			var numbers []string
			before := ""
			for pages := 0; pages < 20; pages++ {
				u := base + "/apps/app-01/revisions?limit=2"
				if before != "" {
					u += "&cursor=" + before
				}
				r := admin.must(200, "GET", u, nil)
				cmds := mon.next(t)
				got := r.strs("items.#.number")
				numbers = append(numbers, got...)
				next := ""
				if r.get("nextCursor") != nil {
					next = r.str("nextCursor")
				}
				b, _ := strconv.ParseInt(before, 10, 64)
				wantNums, wantNext := newestByKey(t, rs, revs, b, 2)
				mon.next(t)
				if strings.Join(got, ",") != strings.Join(wantNums, ",") || next != wantNext {
					t.Errorf("revisions cursor %q: %v next %q; key by key: %v next %q", before, got, next, wantNums, wantNext)
				}
				if len(got) > 0 && (len(cmds) < 1 || len(cmds) > 5) {
					t.Errorf("revisions cursor %q: %d Redis commands: %v", before, len(cmds), cmds)
				}
				if next == "" {
					break
				}
				before = next
			}
			if strings.Join(numbers, ",") != "7,5,4,3,2,1" {
				t.Errorf("revisions list %v, want 7,5,4,3,2,1", numbers)
			}
			noTraps(t, h)
		})
	}
}

// listByKey lists a kv.Collection at prefix key by key, as kv does without
// an IndexReader (and as it did before): the names of the page and the
// next cursor.
func listByKey(t *testing.T, rs *redisServer, prefix, cursor string, limit int) ([]string, string) {
	t.Helper()
	from := int64(0)
	if cursor != "" {
		from, _ = strconv.ParseInt(cursor, 10, 64)
	}
	last := redisInt(t, rs, prefix+"/seq")
	var names []string
	seq := from
	for probes := 0; seq < last && len(names) < limit && probes < 4*limit; probes++ {
		seq++
		name, ok := redisGet(t, rs, prefix+"/slot/"+strconv.FormatInt(seq, 10))
		if !ok {
			continue
		}
		rec, ok := redisGet(t, rs, prefix+"/item/"+name)
		if !ok {
			continue
		}
		var st struct{ Seq, Removing int64 }
		if err := json.Unmarshal([]byte(rec), &st); err != nil {
			t.Fatalf("%s/item/%s: %v", prefix, name, err)
		}
		if (st.Removing != 0 && time.Now().Unix() < st.Removing) || st.Seq != seq {
			continue
		}
		names = append(names, name)
	}
	if seq < last {
		return names, strconv.FormatInt(seq, 10)
	}
	return names, ""
}

// newestByKey pages a kv.Log at prefix key by key, newest first: the
// entries' "number" fields and the next cursor.
func newestByKey(t *testing.T, rs *redisServer, prefix string, before int64, limit int) ([]string, string) {
	t.Helper()
	n := redisInt(t, rs, prefix+"/n")
	if before > 0 && before-1 < n {
		n = before - 1
	}
	var out []string
	for probes := 0; n > 0 && len(out) < limit && probes < 4*limit; probes++ {
		doc, ok := redisGet(t, rs, prefix+"/"+strconv.FormatInt(n, 10))
		n--
		if !ok {
			continue
		}
		var e struct{ Number int64 }
		if err := json.Unmarshal([]byte(doc), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, strconv.FormatInt(e.Number, 10))
	}
	if n <= 0 {
		return out, ""
	}
	return out, strconv.FormatInt(n+1, 10)
}

func redisGet(t *testing.T, rs *redisServer, key string) (string, bool) {
	t.Helper()
	v, err := rs.Client.Get(context.Background(), key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return v, true
}

// redisMonitor reads a MONITOR stream of rs.
type redisMonitor struct {
	rs    *redisServer
	mu    sync.Mutex
	lines []string
	mark  int
	conn  net.Conn
}

func startMonitor(t *testing.T, rs *redisServer) *redisMonitor {
	t.Helper()
	c, err := net.Dial("tcp", rs.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	m := &redisMonitor{rs: rs, conn: c}
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || l != "+OK\r\n" {
		t.Fatalf("MONITOR: %q %v", l, err)
	}
	go func() {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			m.mu.Lock()
			m.lines = append(m.lines, strings.TrimSuffix(strings.TrimPrefix(l, "+"), "\r\n"))
			m.mu.Unlock()
		}
	}()
	return m
}

// next returns the commands clients sent since the last call (not those
// a script ran, nor connection set-up), as `COMMAND first-arg`.
func (m *redisMonitor) next(t *testing.T) []string {
	t.Helper()
	mark := "mark-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := m.rs.Client.Echo(context.Background(), mark).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.mu.Lock()
		for i := m.mark; i < len(m.lines); i++ {
			if !strings.Contains(m.lines[i], `"`+mark+`"`) {
				continue
			}
			var out []string
			for _, l := range m.lines[m.mark:i] {
				// 1733130000.123456 [0 127.0.0.1:5555] "GET" "key"
				j := strings.Index(l, "] ")
				if j < 0 || strings.Contains(l[:j], " lua") {
					continue
				}
				f := strings.SplitN(l[j+2:], " ", 3)
				cmd := strings.ToUpper(strings.Trim(f[0], `"`))
				switch cmd {
				case "SELECT", "HELLO", "CLIENT", "AUTH", "PING", "ECHO":
					continue
				}
				if len(f) > 1 && cmd != "EVAL" {
					cmd += " " + strings.Trim(f[1], `"`)
				}
				out = append(out, cmd)
			}
			m.mark = i + 1
			m.mu.Unlock()
			return out
		}
		m.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("MONITOR: the mark did not arrive")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
