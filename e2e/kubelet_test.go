package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// kwok runs no pod, so nothing on the loopback cluster ever notices a pod
// template that points at a Secret or ConfigMap (or a key in one) that does
// not exist; on a real cluster such a pod never starts
// (CreateContainerConfigError, or a volume that never mounts).
// checkPodReferences does what kubelet would: it reads the Deployment
// spin-operator made for the app and resolves every secretKeyRef,
// configMapKeyRef, envFrom source and secret/configMap volume (with its
// items) against the API server. Optional references may be missing.
func (k *kubeCluster) checkPodReferences(tb testing.TB, ns, app string) {
	tb.Helper()
	dep := k.mustObject(tb, groupPath("apps/v1", ns, "deployments", app))
	spec, _ := dep.at("spec", "template", "spec").(map[string]any)
	if spec == nil {
		tb.Fatalf("Deployment %s/%s has no pod template", ns, app)
	}
	var problems []string
	check := func(kind, name, key string, optional bool) {
		if optional {
			return
		}
		res := map[string]string{"Secret": "secrets", "ConfigMap": "configmaps"}[kind]
		obj, ok := k.object(tb, corePath(ns, res, name))
		if !ok {
			problems = append(problems, fmt.Sprintf("%s %q does not exist", kind, name))
			return
		}
		if key == "" {
			return
		}
		if _, ok := obj.at("data", key).(string); !ok {
			if _, ok := obj.at("stringData", key).(string); !ok {
				problems = append(problems, fmt.Sprintf("%s %q has no key %q", kind, name, key))
			}
		}
	}
	for _, c := range kobj(spec).list("containers") {
		for _, e := range c.list("env") {
			if ref, ok := e.at("valueFrom", "secretKeyRef").(map[string]any); ok {
				r := kobj(ref)
				check("Secret", r.s("name"), r.s("key"), r.s("optional") == "true")
			}
			if ref, ok := e.at("valueFrom", "configMapKeyRef").(map[string]any); ok {
				r := kobj(ref)
				check("ConfigMap", r.s("name"), r.s("key"), r.s("optional") == "true")
			}
		}
		for _, from := range c.list("envFrom") {
			if ref, ok := from.at("secretRef").(map[string]any); ok {
				check("Secret", kobj(ref).s("name"), "", kobj(ref).s("optional") == "true")
			}
			if ref, ok := from.at("configMapRef").(map[string]any); ok {
				check("ConfigMap", kobj(ref).s("name"), "", kobj(ref).s("optional") == "true")
			}
		}
	}
	for _, v := range kobj(spec).list("volumes") {
		if sv, ok := v.at("secret").(map[string]any); ok {
			s := kobj(sv)
			check("Secret", s.s("secretName"), "", s.s("optional") == "true")
			for _, it := range s.list("items") {
				check("Secret", s.s("secretName"), it.s("key"), s.s("optional") == "true")
			}
		}
		if cv, ok := v.at("configMap").(map[string]any); ok {
			c := kobj(cv)
			check("ConfigMap", c.s("name"), "", c.s("optional") == "true")
			for _, it := range c.list("items") {
				check("ConfigMap", c.s("name"), it.s("key"), c.s("optional") == "true")
			}
		}
	}
	if len(problems) > 0 {
		tb.Errorf("pods of %s/%s could not start on a real cluster: %s", ns, app, strings.Join(problems, "; "))
	}
}
