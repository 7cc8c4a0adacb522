package api

import (
	"testing"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/jsonw"
)

// Pure tests: they also run compiled by TinyGo (make test-tinygo).

// The cluster view keeps the shape spinkube wrote before the service
// layer took it over (docs and the portal read these fields).
func TestClusterAndLogsJSON(t *testing.T) {
	for _, c := range []struct {
		st   spinport.Status
		want string
	}{
		{spinport.Status{}, `{"spinApp":null}`},
		{spinport.Status{Revision: 3, SpinApp: &spinport.SpinAppStatus{Image: "ghcr.io/a/b@sha256:1", Replicas: 2, ReadyReplicas: 1,
			Conditions: []byte(`[{"type":"Ready"}]`), Rollout: &spinport.RolloutStatus{State: "progressing", Updated: 1, Available: 1},
			Certificate: &spinport.CertificateStatus{Ready: false, Message: "pending"}, URLs: []string{"https://web-acme.example.com"}}},
			`{"spinApp":{"revision":3,"image":"ghcr.io/a/b@sha256:1","replicas":2,"readyReplicas":1,"conditions":[{"type":"Ready"}]},` +
				`"deployment":{"rollout":"progressing","updatedReplicas":1,"availableReplicas":1},"certificate":{"ready":false,"message":"pending"},` +
				`"urls":["https://web-acme.example.com"]}`},
	} {
		var w jsonw.W
		writeCluster(&w, c.st)
		if got := string(w.Bytes()); got != c.want {
			t.Errorf("cluster JSON\n got %s\nwant %s", got, c.want)
		}
	}
	var w jsonw.W
	writePodLogs(&w, []spinport.PodLog{{Name: "web-1", Phase: "Running", Log: "hi\n"}, {Name: "web-2", Phase: "Pending", Error: "not started"}})
	want := `{"pods":[{"name":"web-1","phase":"Running","log":"hi\n"},{"name":"web-2","phase":"Pending","error":"not started"}]}`
	if got := string(w.Bytes()); got != want {
		t.Errorf("logs JSON\n got %s\nwant %s", got, want)
	}
}
