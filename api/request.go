package api

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

// readLimited reads at most maxBody+1 bytes of the body (one more than
// allowed, so a caller can tell "too large" apart).
func readLimited(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badRequest("", "could not read the request body")
	}
	return data, nil
}

// maxBody bounds request bodies: spinport's documents are small, and a
// Spin instance has little memory to spare.
const maxBody = 64 << 10

// body is a parsed JSON request object whose fields are checked against
// the ones a route accepts.
type body struct {
	v *fastjson.Value
}

// readBody parses the request body as one JSON object with only the given
// fields. An empty body is an empty object.
func readBody(r *http.Request, fields ...string) (body, error) {
	if r.Body == nil {
		return body{v: emptyObject()}, nil
	}
	data, err := readLimited(r)
	if err != nil {
		return body{}, err
	}
	if len(data) > maxBody {
		return body{}, &Problem{Status: http.StatusRequestEntityTooLarge, Title: "Request too large",
			Detail: "the request body is over " + strconv.Itoa(maxBody/1024) + " KiB"}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return body{v: emptyObject()}, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return body{}, &Problem{Status: http.StatusUnsupportedMediaType, Title: "Unsupported media type",
			Detail: "send the body as application/json"}
	}
	if !jsonw.Shallow(data, jsonw.MaxDepth) {
		return body{}, badRequest("", "the body nests arrays or objects more than "+strconv.Itoa(jsonw.MaxDepth)+" levels deep")
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(data)
	if err != nil {
		return body{}, badRequest("", "the body is not valid JSON: "+err.Error())
	}
	obj, err := v.Object()
	if err != nil {
		return body{}, badRequest("", "the body must be a JSON object")
	}
	var unknown string
	obj.Visit(func(k []byte, _ *fastjson.Value) {
		if unknown == "" && !contains(fields, string(k)) {
			unknown = string(k)
		}
	})
	if unknown != "" {
		return body{}, badRequest(unknown, "unknown field \""+unknown+"\"; this request accepts: "+strings.Join(fields, ", "))
	}
	return body{v: v}, nil
}

func emptyObject() *fastjson.Value {
	var a fastjson.Arena
	return a.NewObject()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (b body) has(k string) bool { return b.v.Exists(k) }

// str returns field k as a string ("" when absent); a non-string is an error.
func (b body) str(k string) (string, error) {
	f := b.v.Get(k)
	if f == nil || f.Type() == fastjson.TypeNull {
		return "", nil
	}
	s, err := f.StringBytes()
	if err != nil {
		return "", badRequest(k, "\""+k+"\" must be a string")
	}
	return string(s), nil
}

// int returns field k as an integer (def when absent).
func (b body) int(k string, def int64) (int64, error) {
	f := b.v.Get(k)
	if f == nil || f.Type() == fastjson.TypeNull {
		return def, nil
	}
	n, err := f.Int64()
	if err != nil {
		return 0, badRequest(k, "\""+k+"\" must be an integer")
	}
	return n, nil
}

func (b body) bool(k string, def bool) (bool, error) {
	f := b.v.Get(k)
	if f == nil || f.Type() == fastjson.TypeNull {
		return def, nil
	}
	v, err := f.Bool()
	if err != nil {
		return false, badRequest(k, "\""+k+"\" must be true or false")
	}
	return v, nil
}

// strs returns field k as a list of strings (nil when absent).
func (b body) strs(k string) ([]string, error) {
	f := b.v.Get(k)
	if f == nil || f.Type() == fastjson.TypeNull {
		return nil, nil
	}
	arr, err := f.Array()
	if err != nil {
		return nil, badRequest(k, "\""+k+"\" must be a list of strings")
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, err := e.StringBytes()
		if err != nil {
			return nil, badRequest(k, "\""+k+"\" must be a list of strings")
		}
		out = append(out, string(s))
	}
	return out, nil
}

// obj returns field k as a nested body restricted to fields.
func (b body) obj(k string, fields ...string) (body, bool, error) {
	f := b.v.Get(k)
	if f == nil || f.Type() == fastjson.TypeNull {
		return body{}, false, nil
	}
	o, err := f.Object()
	if err != nil {
		return body{}, false, badRequest(k, "\""+k+"\" must be an object")
	}
	var unknown string
	o.Visit(func(key []byte, _ *fastjson.Value) {
		if unknown == "" && !contains(fields, string(key)) {
			unknown = string(key)
		}
	})
	if unknown != "" {
		return body{}, false, badRequest(k+"."+unknown, "unknown field \""+k+"."+unknown+"\"; \""+k+"\" accepts: "+strings.Join(fields, ", "))
	}
	return body{v: f}, true, nil
}

// page reads ?limit= and ?cursor= with a default and maximum page size.
func page(r *http.Request) (limit int, cursor string, err error) {
	q := r.URL.Query()
	limit = 50
	if s := q.Get("limit"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < 1 || n > 200 {
			return 0, "", badRequest("limit", "limit must be a whole number from 1 to 200")
		}
		limit = n
	}
	return limit, q.Get("cursor"), nil
}
