package spinport

import (
	"net"
	"strconv"
	"strings"
)

// Name lengths are chosen so derived Kubernetes names stay legal: the
// default host label "<app>-<tenant>" and "<app>-runtime-config" must fit
// in a 63-character DNS label.
const (
	MaxTenantLen   = 20
	MaxAppLen      = 30
	MaxVariables   = 100
	MaxDomains     = 10
	MaxVariableLen = 64
	MaxValueLen    = 16 << 10
)

// checkName validates a DNS-1035 label (a Service name, which SpinApp
// creates from the app name, must start with a letter).
func CheckName(field, kind, s string, max int) error {
	fix := kind + " names are 1-" + strconv.Itoa(max) + " characters of lowercase letters, digits and '-', starting with a letter and ending with a letter or digit (e.g. \"web-api\")"
	if s == "" {
		return invalid(field, field+" is required: "+fix)
	}
	if len(s) > max {
		return invalid(field, kind+" name \""+s+"\" is "+strconv.Itoa(len(s))+" characters: "+fix)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || (i > 0 && (c >= '0' && c <= '9' || c == '-'))
		if !ok {
			return invalid(field, kind+" name \""+s+"\" is not valid: "+fix)
		}
	}
	if s[len(s)-1] == '-' {
		return invalid(field, kind+" name \""+s+"\" ends with '-': "+fix)
	}
	return nil
}

func CheckTenantSlug(s string) error {
	if err := CheckName("slug", "tenant", s, MaxTenantLen); err != nil {
		return err
	}
	return checkReserved("slug", "tenant slug", s)
}

func CheckAppName(s string) error {
	if err := CheckName("name", "app", s, MaxAppLen); err != nil {
		return err
	}
	return checkReserved("name", "app name", s)
}

// reservedNames are Kubernetes' own namespaces and the names spinport
// gives itself (its namespace spinport-system, its executor), refused as
// tenant slugs and app names so no tenant object can be mistaken for, or
// land in, one of them whatever namespace_prefix an installation sets.
var reservedNames = []string{"default", "kube-system", "kube-public", "kube-node-lease",
	"spinport", "spinport-system", "system", "containerd-shim-spin"}

func isReserved(s string) bool {
	for _, r := range reservedNames {
		if r == s {
			return true
		}
	}
	return strings.HasPrefix(s, "kube-")
}

func checkReserved(field, what, s string) error {
	if isReserved(s) {
		return invalid(field, what+" \""+s+"\" is reserved (Kubernetes' own names, kube-*, and the names spinport uses for itself: "+
			strings.Join(reservedNames, ", ")+"); choose another")
	}
	return nil
}

// CheckVariableName accepts what Spin accepts for variable names: lowercase
// ASCII letters, digits and single underscores, starting with a letter.
func CheckVariableName(s string) error {
	fix := "variable names are lowercase letters, digits and single underscores, start with a letter and do not end with '_' (e.g. \"api_url\"); Spin exposes them as SPIN_VARIABLE_<NAME>"
	if s == "" || len(s) > MaxVariableLen {
		return invalid("name", "variable name must be 1-"+strconv.Itoa(MaxVariableLen)+" characters: "+fix)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || (i > 0 && (c >= '0' && c <= '9' || c == '_'))
		if !ok {
			return invalid("name", "variable name \""+s+"\" is not valid: "+fix)
		}
	}
	if strings.Contains(s, "__") || s[len(s)-1] == '_' {
		return invalid("name", "variable name \""+s+"\" is not valid: "+fix)
	}
	return nil
}

// Image is a parsed OCI image reference.
type Image struct {
	Registry   string
	Repository string
	Tag        string
	Digest     string // sha256:<64 hex>
}

func (im Image) String() string {
	s := im.Registry + "/" + im.Repository
	if im.Tag != "" {
		s += ":" + im.Tag
	}
	if im.Digest != "" {
		s += "@" + im.Digest
	}
	return s
}

// Pinned is the reference Kubernetes should pull: by digest when known.
func (im Image) Pinned() string { return Pin(im.String(), im.Digest) }

// Pin is the reference to pull for an image reference (as given) and the
// digest it was deployed at: the digest is what runs, so tag and any older
// digest are dropped. Without a digest the reference is pulled as given.
func Pin(ref, digest string) string {
	if digest == "" {
		return ref
	}
	if at := strings.IndexByte(ref, '@'); at >= 0 {
		ref = ref[:at]
	}
	if colon := strings.LastIndexByte(ref, ':'); colon > strings.LastIndexByte(ref, '/') {
		ref = ref[:colon] // a tag, not a registry port
	}
	return ref + "@" + digest
}

// DefaultHost is the host every app gets: <app>-<tenant>.<base domain>.
func DefaultHost(app, tenant, baseDomain string) string {
	return app + "-" + tenant + "." + baseDomain
}

// IsIPv4 reports whether the ingress target s is an IPv4 address (hosts
// point at it with A records) rather than a host name (CNAME records).
func IsIPv4(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.To4() != nil
}

// Hosts are an app's host names: its default host first, then domains.
func Hosts(app, tenant, baseDomain string, domains []string) []string {
	return append([]string{DefaultHost(app, tenant, baseDomain)}, domains...)
}

const imageFix = "use registry/repository[:tag][@sha256:digest], e.g. ghcr.io/acme/web:v1.2.0 or ghcr.io/acme/web@sha256:<64 hex>"

// ParseImage validates registry/repository[:tag][@sha256:digest]. The
// registry is required: spinport never guesses Docker Hub.
func ParseImage(s string) (Image, error) {
	bad := func(why string) (Image, error) {
		return Image{}, invalid("image", "image \""+s+"\" "+why+": "+imageFix)
	}
	if s == "" {
		return Image{}, invalid("image", "image is required: "+imageFix)
	}
	if len(s) > 512 {
		return bad("is too long")
	}
	var im Image
	rest := s
	if at := strings.IndexByte(rest, '@'); at >= 0 {
		im.Digest = rest[at+1:]
		rest = rest[:at]
		if !strings.HasPrefix(im.Digest, "sha256:") || len(im.Digest) != 71 || !IsHex(im.Digest[7:]) {
			return bad("has a malformed digest (want sha256: and 64 lowercase hex digits)")
		}
	}
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 {
		return bad("has no registry")
	}
	im.Registry = rest[:slash]
	if !strings.ContainsAny(im.Registry, ".:") && im.Registry != "localhost" {
		return bad("has no registry host (\"" + im.Registry + "\" looks like a Docker Hub namespace)")
	}
	if !validRegistry(im.Registry) {
		return bad("has an invalid registry host")
	}
	path := rest[slash+1:]
	if colon := strings.LastIndexByte(path, ':'); colon >= 0 {
		im.Tag = path[colon+1:]
		path = path[:colon]
		if !validTag(im.Tag) {
			return bad("has an invalid tag")
		}
	}
	if im.Tag == "" && im.Digest == "" {
		return bad("needs a tag or a digest")
	}
	for _, comp := range strings.Split(path, "/") {
		if !validPathComponent(comp) {
			return bad("has an invalid repository path")
		}
	}
	im.Repository = path
	return im, nil
}

func IsHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return len(s) > 0
}

// CheckRegistry validates a registry host[:port] (where pull credentials apply).
func CheckRegistry(s string) error {
	if !validRegistry(s) {
		return invalid("registry", "registry \""+s+"\" is not a registry host (e.g. \"myacr.azurecr.io\" or \"localhost:5000\"; no scheme or path)")
	}
	return nil
}

func validRegistry(s string) bool {
	host, port := s, ""
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	return host == "localhost" || validHost(host)
}

func validTag(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || (i > 0 && (c == '.' || c == '-'))
		if !ok {
			return false
		}
	}
	return true
}

// validPathComponent: runs of [a-z0-9] joined by ".", "_", "__" or "-"+
// (the OCI distribution grammar).
func validPathComponent(s string) bool {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); {
		if alnum(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && !alnum(s[j]) {
			j++
		}
		sep := s[i:j]
		if sep != "." && sep != "_" && sep != "__" && strings.Trim(sep, "-") != "" {
			return false
		}
		i = j
	}
	return true
}

// validHost checks a DNS name of two or more labels (lowercase).
func validHost(s string) bool {
	if len(s) == 0 || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// CheckDomain validates a custom domain. Names under the installation's
// base domain are reserved for the default hosts.
func CheckDomain(host, baseDomain string) error {
	if !validHost(host) {
		return invalid("domains", "domain \""+host+"\" is not a valid lowercase host name (e.g. \"www.example.com\"; no scheme, port, path or wildcard)")
	}
	if baseDomain != "" && (host == baseDomain || strings.HasSuffix(host, "."+baseDomain)) {
		return invalid("domains", "domain \""+host+"\" is under the installation's base domain "+baseDomain+", whose names spinport assigns itself; use a domain you own")
	}
	return nil
}

// RegistryAllowed applies the installation-wide allow-list: entries are
// registries ("ghcr.io") or registry/path prefixes ("ghcr.io/acme").
func RegistryAllowed(im Image, allow []string) bool {
	if len(allow) == 0 {
		return true
	}
	ref := im.Registry + "/" + im.Repository
	for _, a := range allow {
		if ref == a || strings.HasPrefix(ref, strings.TrimSuffix(a, "/")+"/") {
			return true
		}
	}
	return false
}
