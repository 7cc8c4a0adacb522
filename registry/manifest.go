package registry

import (
	"sort"
	"strings"

	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

// Media types of manifests, configs and layers this package tells apart.
// The Spin ones are Spin's own (crates/oci/src/client.rs in
// spinframework/spin: SPIN_APPLICATION_MEDIA_TYPE, DATA_MEDIATYPE,
// ARCHIVE_MEDIATYPE, WASM_LAYER_MEDIA_TYPE and WASM_LAYER_MEDIA_TYPE_WKG).
const (
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeOCIConfig      = "application/vnd.oci.image.config.v1+json"

	// MediaTypeSpinApp is the locked app (spin.lock JSON): a layer since
	// Spin 2, the manifest's config blob in Spin 1.x artifacts.
	MediaTypeSpinApp      = "application/vnd.fermyon.spin.application.v1+config"
	MediaTypeWasmLayer    = "application/vnd.wasm.content.layer.v1+wasm"
	MediaTypeWasm         = "application/wasm" // Wasm pushed by wkg; Spin's pull accepts it too
	MediaTypeDataLayer    = "application/vnd.wasm.content.layer.v1+data"
	MediaTypeArchiveLayer = "application/vnd.wasm.content.bundle.v1.tar+gzip"

	// LockedAppDigestLabel is the config label Spin >= 2 sets to the
	// locked app layer's digest, so that different apps get different
	// image config digests (image IDs) in container runtimes.
	LockedAppDigestLabel = "com.fermyon.spin.lockedAppDigest"

	// manifestAccept is sent on every manifest request: without it some
	// registries convert or refuse OCI content.
	manifestAccept = MediaTypeOCIManifest + ", " + MediaTypeOCIIndex + ", " + MediaTypeDockerManifest + ", " + MediaTypeDockerList
)

// Descriptor points at content in a registry.
type Descriptor struct {
	Digest    string // sha256:<hex>
	MediaType string
	Size      int64
}

// Platform is an index entry's platform.
type Platform struct {
	OS           string
	Architecture string
}

// IndexEntry is one manifest listed by an image index.
type IndexEntry struct {
	Descriptor
	Platform Platform
}

// Manifest is a parsed image manifest (OCI or Docker v2) or image index.
type Manifest struct {
	MediaType   string
	Digest      string // sha256 of Raw
	Config      Descriptor
	Layers      []Descriptor
	Manifests   []IndexEntry // for an index
	Annotations map[string]string
	Raw         []byte
}

// IsIndex reports whether m is an image index / manifest list.
func (m *Manifest) IsIndex() bool { return isIndexType(m.MediaType) }

func isIndexType(mt string) bool { return mt == MediaTypeOCIIndex || mt == MediaTypeDockerList }

func isManifestType(mt string) bool {
	return mt == MediaTypeOCIManifest || mt == MediaTypeDockerManifest || isIndexType(mt)
}

// ParseManifest parses a manifest or index. contentType is the registry's
// Content-Type ("" if it sent none); the document's own mediaType wins
// when present, and without either the shape decides (manifests[] means
// an index).
func ParseManifest(data []byte, contentType string) (*Manifest, error) {
	if !jsonw.Shallow(data, jsonw.MaxDepth) {
		return nil, errorString("the manifest nests deeper than " + itoa(jsonw.MaxDepth) + " levels")
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(data)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, errorString("the manifest is not a JSON object")
	}
	m := &Manifest{Raw: data, Digest: sha256Digest(data)}
	m.MediaType = string(v.GetStringBytes("mediaType"))
	if m.MediaType == "" {
		m.MediaType = baseMediaType(contentType)
	}
	if m.MediaType == "" || m.MediaType == "application/json" || m.MediaType == "text/plain" {
		if v.Get("manifests") != nil {
			m.MediaType = MediaTypeOCIIndex
		} else {
			m.MediaType = MediaTypeOCIManifest
		}
	}
	if strings.HasPrefix(m.MediaType, "application/vnd.docker.distribution.manifest.v1") {
		return m, errorString("it is a Docker schema 1 manifest (" + m.MediaType + ")")
	}
	if !isManifestType(m.MediaType) {
		return m, errorString("unknown manifest media type " + quote(m.MediaType, 100))
	}
	if sv := v.GetInt("schemaVersion"); sv != 2 {
		return m, errorString("schemaVersion is " + itoa(sv) + ", want 2")
	}
	if ann := v.GetObject("annotations"); ann != nil {
		m.Annotations = map[string]string{}
		ann.Visit(func(k []byte, val *fastjson.Value) {
			if b, err := val.StringBytes(); err == nil {
				m.Annotations[string(k)] = string(b)
			}
		})
	}
	if m.IsIndex() {
		for i, e := range v.GetArray("manifests") {
			d, err := parseDescriptor(e)
			if err != nil {
				return m, errorString("manifests[" + itoa(i) + "]: " + err.Error())
			}
			m.Manifests = append(m.Manifests, IndexEntry{Descriptor: d, Platform: Platform{
				OS:           string(e.GetStringBytes("platform", "os")),
				Architecture: string(e.GetStringBytes("platform", "architecture")),
			}})
		}
		return m, nil
	}
	cfg := v.Get("config")
	if cfg == nil {
		return m, errorString("the manifest has no config")
	}
	if m.Config, err = parseDescriptor(cfg); err != nil {
		return m, errorString("config: " + err.Error())
	}
	for i, l := range v.GetArray("layers") {
		d, err := parseDescriptor(l)
		if err != nil {
			return m, errorString("layers[" + itoa(i) + "]: " + err.Error())
		}
		m.Layers = append(m.Layers, d)
	}
	return m, nil
}

func parseDescriptor(v *fastjson.Value) (Descriptor, error) {
	if v.Type() != fastjson.TypeObject {
		return Descriptor{}, errorString("not an object")
	}
	d := Descriptor{
		Digest:    string(v.GetStringBytes("digest")),
		MediaType: string(v.GetStringBytes("mediaType")),
		Size:      v.GetInt64("size"),
	}
	if err := checkDigest(d.Digest); err != nil {
		return d, err
	}
	if d.Size < 0 {
		return d, errorString("negative size")
	}
	return d, nil
}

// PickWasm returns the index entry of a Spin app: platform os wasip1 (or
// wasi, wasip2) or architecture wasm. Spin itself pushes no index; one
// appears when a tool wraps the app with other platforms.
func (m *Manifest) PickWasm() (IndexEntry, bool) {
	for _, e := range m.Manifests {
		os := strings.ToLower(e.Platform.OS)
		if os == "wasip1" || os == "wasi" || os == "wasip2" || strings.ToLower(e.Platform.Architecture) == "wasm" {
			if e.MediaType == "" || e.MediaType == MediaTypeOCIManifest || e.MediaType == MediaTypeDockerManifest {
				return e, true
			}
		}
	}
	return IndexEntry{}, false
}

// platforms lists an index's platforms for messages: "linux/amd64, linux/arm64".
func (m *Manifest) platforms() string {
	var ps []string
	seen := map[string]bool{}
	for _, e := range m.Manifests {
		p := e.Platform.OS + "/" + e.Platform.Architecture
		if p == "/" {
			p = "unknown"
		}
		if !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	sort.Strings(ps)
	return strings.Join(ps, ", ")
}

// baseMediaType drops parameters: "application/json; charset=utf-8" -> "application/json".
func baseMediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

type errorString string

func (e errorString) Error() string { return string(e) }
