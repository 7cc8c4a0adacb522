package api

import (
	"net/http"
	"strconv"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/control"
)

// binder reads fields of a JSON request body (readBody: only the fields a
// route accepts) and keeps the first error, so a handler binds its input
// in one expression and checks one error.
type binder struct {
	b   body
	err error
}

// bind parses r's body, accepting only fields.
func bind(r *http.Request, fields ...string) *binder {
	b, err := readBody(r, fields...)
	return &binder{b: b, err: err}
}

func (x *binder) has(k string) bool { return x.err == nil && x.b.has(k) }

func (x *binder) str(k string) string {
	if x.err != nil {
		return ""
	}
	v, err := x.b.str(k)
	x.err = err
	return v
}

// optStr is nil when the field is absent.
func (x *binder) optStr(k string) *string {
	if !x.has(k) {
		return nil
	}
	v := x.str(k)
	return &v
}

func (x *binder) int(k string, def int64) int64 {
	if x.err != nil {
		return def
	}
	v, err := x.b.int(k, def)
	x.err = err
	return v
}

func (x *binder) bool(k string, def bool) bool {
	if x.err != nil {
		return def
	}
	v, err := x.b.bool(k, def)
	x.err = err
	return v
}

func (x *binder) optBool(k string) *bool {
	if !x.has(k) {
		return nil
	}
	v := x.bool(k, false)
	return &v
}

func (x *binder) strs(k string) []string {
	if x.err != nil {
		return nil
	}
	v, err := x.b.strs(k)
	x.err = err
	return v
}

func (x *binder) optStrs(k string) *[]string {
	if !x.has(k) {
		return nil
	}
	v := x.strs(k)
	return &v
}

// ints reads the integer fields of object k, each from min to max; absent
// fields are 0. It is nil when k is absent.
func (x *binder) ints(k string, min, max int64, fields ...string) map[string]int64 {
	if !x.has(k) {
		return nil
	}
	ob, _, err := x.b.obj(k, fields...)
	if err != nil {
		x.err = err
		return nil
	}
	out := map[string]int64{}
	for _, f := range fields {
		if !ob.has(f) {
			continue
		}
		n, err := ob.int(f, 0)
		name := k + "." + f
		if err != nil {
			x.err = badRequest(name, name+" must be an integer")
			return nil
		}
		if n < min || n > max {
			x.err = badRequest(name, name+" must be between "+strconv.FormatInt(min, 10)+" and "+strconv.FormatInt(max, 10))
			return nil
		}
		out[f] = n
	}
	return out
}

// quotas reads {"quotas":{...}}: nil when absent.
func (x *binder) quotas() *control.QuotaPatch {
	m := x.ints("quotas", 1, 10000, "maxApps", "maxReplicasPerApp", "maxTotalReplicas")
	if m == nil {
		return nil
	}
	return &control.QuotaPatch{MaxApps: m["maxApps"], MaxReplicasPerApp: m["maxReplicasPerApp"], MaxTotalReplicas: m["maxTotalReplicas"]}
}

// scaling reads replicas or autoscaling: nil when neither is given.
func (x *binder) scaling() *spinport.Scaling {
	if x.err != nil {
		return nil
	}
	switch {
	case x.has("replicas") && x.has("autoscaling"):
		x.err = badRequest("replicas", "give either replicas or autoscaling, not both (SpinKube rejects both)")
	case x.has("replicas"):
		n := x.int("replicas", 1)
		if x.err == nil && n < 1 {
			x.err = badRequest("replicas", "replicas must be at least 1; to stop an app, delete it")
		}
		return &spinport.Scaling{Replicas: n}
	case x.has("autoscaling"):
		return x.autoscaling()
	}
	return nil
}

func (x *binder) autoscaling() *spinport.Scaling {
	ab, _, err := x.b.obj("autoscaling", "minReplicas", "maxReplicas")
	if err != nil {
		x.err = err
		return nil
	}
	min, err := ab.int("minReplicas", 1)
	if err != nil {
		x.err = badRequest("autoscaling.minReplicas", "autoscaling.minReplicas must be an integer")
		return nil
	}
	max, err := ab.int("maxReplicas", 0)
	if err != nil {
		x.err = badRequest("autoscaling.maxReplicas", "autoscaling.maxReplicas must be an integer")
		return nil
	}
	if min < 1 || max < min {
		x.err = badRequest("autoscaling", "autoscaling needs 1 <= minReplicas <= maxReplicas")
	}
	return &spinport.Scaling{Autoscale: true, MinReplicas: min, MaxReplicas: max}
}
