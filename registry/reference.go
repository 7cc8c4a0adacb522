package registry

import (
	"errors"
	"strconv"
	"strings"
)

// Reference is a parsed image reference, registry/path[:tag][@digest].
type Reference struct {
	Registry   string // as written, e.g. "ghcr.io", "127.0.0.1:5000", "docker.io"
	Repository string // path inside the registry, e.g. "acme/web" ("library/x" on docker.io)
	Tag        string // "" when the reference names only a digest
	Digest     string // "sha256:<64 hex>" or ""
}

// String is the canonical form: registry/repository[:tag][@digest].
func (r Reference) String() string {
	s := r.Repo()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Repo is registry/repository, the form Client.Manifest and Client.Blob take.
func (r Reference) Repo() string { return r.Registry + "/" + r.Repository }

// target is what goes after /manifests/: the digest when there is one (a
// digest pins the content; the tag is then only a label), else the tag.
func (r Reference) target() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// apiHost is the host the distribution API lives on. Docker Hub's names
// (docker.io/...) are served by registry-1.docker.io.
func (r Reference) apiHost() string {
	if r.Registry == "docker.io" || r.Registry == "index.docker.io" {
		return "registry-1.docker.io"
	}
	return r.Registry
}

// ReferenceError means a reference could not be parsed; Reason says what
// to change.
type ReferenceError struct {
	Ref    string
	Reason string
}

func (e *ReferenceError) Error() string {
	return "registry: invalid reference " + strconv.Quote(clip(e.Ref, 256)) + ": " + e.Reason
}

// ParseReference parses registry/path[:tag][@sha256:hex]. The registry must
// be named (a host with a dot or a port, or "localhost"): spinport does not
// guess Docker Hub for a bare "acme/web". Without tag and digest the tag is
// "latest", as `spin registry push` does.
func ParseReference(s string) (Reference, error) {
	bad := func(reason string) (Reference, error) {
		return Reference{}, &ReferenceError{Ref: s, Reason: reason}
	}
	if s == "" {
		return bad("it is empty; use registry/repository:tag, e.g. ghcr.io/acme/web:v1")
	}
	if len(s) > 512 {
		return bad("it is longer than 512 bytes")
	}
	if strings.Contains(s, "://") {
		return bad("drop the scheme: write ghcr.io/acme/web:v1, not https://ghcr.io/acme/web:v1")
	}
	var ref Reference
	name := s
	if i := strings.IndexByte(name, '@'); i >= 0 {
		ref.Digest = name[i+1:]
		name = name[:i]
		if err := checkDigest(ref.Digest); err != nil {
			return bad(err.Error())
		}
	}
	slash := strings.IndexByte(name, '/')
	if slash < 0 {
		return bad("it names no registry; use registry/repository:tag, e.g. ghcr.io/acme/web:v1")
	}
	ref.Registry = name[:slash]
	rest := name[slash+1:]
	if !validRegistry(ref.Registry) {
		return bad("the registry " + strconv.Quote(clip(ref.Registry, 64)) + " is not a host name: name the registry first, e.g. ghcr.io/acme/web:v1 (Docker Hub: docker.io/acme/web:v1)")
	}
	// A ':' after the last '/' starts the tag (a ':' before it was the port).
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && i > strings.LastIndexByte(rest, '/') {
		ref.Tag = rest[i+1:]
		rest = rest[:i]
		if !validTag(ref.Tag) {
			return bad("the tag " + strconv.Quote(clip(ref.Tag, 64)) + " is not valid (letters, digits, _ . -, at most 128, not starting with . or -)")
		}
	}
	if err := checkRepository(rest); err != nil {
		return bad(err.Error())
	}
	if (ref.Registry == "docker.io" || ref.Registry == "index.docker.io") && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	ref.Repository = rest
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = "latest"
	}
	return ref, nil
}

// parseRepo parses registry/repository (no tag, no digest).
func parseRepo(repo string) (Reference, error) {
	ref, err := ParseReference(repo)
	if err != nil {
		return Reference{}, err
	}
	if ref.Digest != "" || strings.LastIndexByte(repo, ':') > strings.LastIndexByte(repo, '/') {
		return Reference{}, &ReferenceError{Ref: repo, Reason: "a repository is registry/path, without tag or digest"}
	}
	ref.Tag = ""
	return ref, nil
}

func validRegistry(h string) bool {
	if h == "localhost" || strings.HasPrefix(h, "localhost:") {
		return true
	}
	if !strings.ContainsAny(h, ".:") || len(h) > 253 {
		return false
	}
	if strings.HasPrefix(h, "[") { // [::1]:5000
		end := strings.IndexByte(h, ']')
		return end > 1 && (end == len(h)-1 || (h[end+1] == ':' && validPort(h[end+2:])))
	}
	host, port := h, ""
	if i := strings.IndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
		if !validPort(port) {
			return false
		}
	}
	if host == "" {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536 && p[0] != '0'
}

func validTag(t string) bool {
	if t == "" || len(t) > 128 || t[0] == '.' || t[0] == '-' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// checkRepository applies the distribution spec's path grammar:
// components of [a-z0-9]+ joined by '.', '_', '__' or '-'+, separated by '/'.
func checkRepository(p string) error {
	if p == "" {
		return errors.New("the repository path is empty")
	}
	if len(p) > 255 {
		return errors.New("the repository path is longer than 255 bytes")
	}
	for _, comp := range strings.Split(p, "/") {
		if comp == "" {
			return errors.New("the repository path has an empty component (a double or trailing /)")
		}
		if !isAlnum(comp[0]) || !isAlnum(comp[len(comp)-1]) {
			return errors.New("repository path component " + strconv.Quote(clip(comp, 64)) + " must start and end with a lowercase letter or digit")
		}
		for i := 0; i < len(comp); {
			c := comp[i]
			if isAlnum(c) {
				i++
				continue
			}
			j := i
			for j < len(comp) && (comp[j] == '.' || comp[j] == '_' || comp[j] == '-') {
				j++
			}
			if j == i {
				return errors.New("repository path component " + strconv.Quote(clip(comp, 64)) + " may hold only lowercase letters, digits and . _ - (the path is lowercase)")
			}
			if sep := comp[i:j]; sep != "." && sep != "_" && sep != "__" && strings.Trim(sep, "-") != "" {
				return errors.New("repository path component " + strconv.Quote(clip(comp, 64)) + " has the separator " + strconv.Quote(sep) + "; use one of . _ __ or dashes")
			}
			i = j
		}
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// checkDigest accepts sha256 digests only: they are what registries and
// Spin use, and what this package can verify.
func checkDigest(d string) error {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || algo == "" {
		return errors.New("the digest " + strconv.Quote(clip(d, 80)) + " must look like sha256:<64 hex digits>")
	}
	if algo != "sha256" {
		return errors.New("the digest algorithm " + strconv.Quote(clip(algo, 32)) + " is not supported: use a sha256 digest")
	}
	if len(hex) != 64 {
		return errors.New("the digest " + strconv.Quote(clip(d, 80)) + " must have 64 hex digits after sha256:")
	}
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return errors.New("the digest " + strconv.Quote(clip(d, 80)) + " must have lowercase hex digits after sha256:")
		}
	}
	return nil
}
