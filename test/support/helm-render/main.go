// helm-render renders a Helm chart the way `helm template` does, for tests on machines without the
// helm binary: Go's text/template with sprig and the functions Helm adds (include, tpl, required,
// fail, toYaml, fromYaml, toJson, fromJson, lookup), values coalesced as Helm coalesces them, and
// the output sorted in Helm's install order. It covers what the otelhouse chart uses; it is not a
// Helm replacement (no dependencies, hooks, --set or schema validation: the tests validate values
// against values.schema.json themselves).
//
// Build (GOPATH mode, Debian's golang-github-masterminds-sprig-dev and golang-k8s-sigs-yaml-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o helm-render ./test/support/helm-render
//
// Usage: helm-render [-f values.yaml]... [--release NAME] [--namespace NS] [--format yaml|json|values] CHART_DIR
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

// Helm refuses deeper include recursion than this.
const recursionMaxNums = 1000

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

// APIVersions answers .Capabilities.APIVersions.Has like Helm's, from a fixed list.
type APIVersions []string

func (a APIVersions) Has(version string) bool {
	for _, v := range a {
		if v == version {
			return true
		}
	}
	return false
}

type chartMeta struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	AppVersion  string `json:"appVersion"`
	Description string `json:"description"`
	Type        string `json:"type"`
}

// Manifest is one rendered template file.
type Manifest struct {
	Source  string `json:"source"`
	Content string `json:"content"`
}

func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return out, nil
}

// coalesce lays src over dst as Helm does: maps merge key by key, anything else replaces, and a
// null in src deletes the key from dst (a null under a key dst does not have stays null).
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for key, value := range src {
		if value == nil {
			if _, exists := dst[key]; exists {
				delete(dst, key)
			} else {
				dst[key] = nil
			}
			continue
		}
		srcMap, srcIsMap := value.(map[string]interface{})
		dstMap, dstIsMap := dst[key].(map[string]interface{})
		if srcIsMap && dstIsMap {
			dst[key] = coalesce(dstMap, srcMap)
		} else {
			dst[key] = value
		}
	}
	return dst
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(str string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(str), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYAMLArray(str string) []interface{} {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(str), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(str string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(str), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

// funcMap is sprig's, less env and expandenv (Helm removes them), plus Helm's own; include and
// tpl are bound to a template set later.
func funcMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	extra := template.FuncMap{
		"toYaml":        toYAML,
		"mustToYaml":    toYAML,
		"fromYaml":      fromYAML,
		"fromYamlArray": fromYAMLArray,
		"toJson":        toJSON,
		"mustToJson":    toJSON,
		"fromJson":      fromJSON,
		"required": func(warn string, val interface{}) (interface{}, error) {
			if val == nil {
				return val, errors.New(warn)
			}
			if s, ok := val.(string); ok && s == "" {
				return val, errors.New(warn)
			}
			return val, nil
		},
		"fail": func(msg string) (string, error) { return "", errors.New(msg) },
		// No cluster here: lookup finds nothing, as in `helm template`.
		"lookup": func(string, string, string, string) (map[string]interface{}, error) {
			return map[string]interface{}{}, nil
		},
		"include": func(string, interface{}) (string, error) { return "", errors.New("include is bound at render time") },
		"tpl":     func(string, interface{}) (string, error) { return "", errors.New("tpl is bound at render time") },
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// bindIncludeAndTpl gives a template set Helm's include (with its recursion guard) and tpl (which
// parses a string in a clone of the set, so it can include the chart's named templates).
func bindIncludeAndTpl(t *template.Template) {
	included := map[string]int{}
	t.Funcs(template.FuncMap{
		"include": func(name string, data interface{}) (string, error) {
			if included[name] > recursionMaxNums {
				return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
			}
			included[name]++
			defer func() { included[name]-- }()
			var buf strings.Builder
			err := t.ExecuteTemplate(&buf, name, data)
			return buf.String(), err
		},
		"tpl": func(text string, data interface{}) (string, error) {
			clone, err := t.Clone()
			if err != nil {
				return "", err
			}
			bindIncludeAndTpl(clone)
			parsed, err := clone.New("tpl").Parse(text)
			if err != nil {
				return "", fmt.Errorf("cannot parse template %q: %w", text, err)
			}
			var buf strings.Builder
			if err := parsed.Execute(&buf, data); err != nil {
				return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
			}
			return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
		},
	})
}

// Helm's InstallOrder: what `helm template` prints first.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
	"ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role",
	"RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet",
	"Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
}

var kindLine = regexp.MustCompile(`(?m)^kind:\s*(\S+)`)
var documentSeparator = regexp.MustCompile(`(?m)^---\s*$`)

func kindRank(doc string) int {
	m := kindLine.FindStringSubmatch(doc)
	if m != nil {
		for i, k := range installOrder {
			if k == m[1] {
				return i
			}
		}
	}
	return len(installOrder)
}

type document struct {
	source, content string
	rank           int
}

// loadValues coalesces the chart's values.yaml with the given files: what Helm checks against
// values.schema.json before it renders anything.
func loadValues(chartDir string, files valueFiles) (map[string]interface{}, error) {
	values, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		user, err := readYAMLMap(f)
		if err != nil {
			return nil, err
		}
		values = coalesce(values, user)
	}
	return values, nil
}

func render(chartDir string, files valueFiles, release, namespace string) ([]Manifest, string, map[string]interface{}, error) {
	var meta chartMeta
	chartYAML, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return nil, "", nil, err
	}
	if err := yaml.Unmarshal(chartYAML, &meta); err != nil {
		return nil, "", nil, fmt.Errorf("Chart.yaml: %w", err)
	}
	values, err := loadValues(chartDir, files)
	if err != nil {
		return nil, "", nil, err
	}

	t := template.New("gotpl").Option("missingkey=zero").Funcs(funcMap())
	bindIncludeAndTpl(t)
	templatesDir := filepath.Join(chartDir, "templates")
	entries, err := os.ReadDir(templatesDir)
	if err != nil {
		return nil, "", nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		text, err := os.ReadFile(filepath.Join(templatesDir, e.Name()))
		if err != nil {
			return nil, "", nil, err
		}
		name := path.Join(meta.Name, "templates", e.Name())
		if _, err := t.New(name).Parse(string(text)); err != nil {
			return nil, "", nil, err
		}
		names = append(names, name)
	}
	sort.Strings(names)

	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": release, "Namespace": namespace, "Service": "Helm", "Revision": 1, "IsInstall": true, "IsUpgrade": false,
		},
		"Chart": map[string]interface{}{
			"Name": meta.Name, "Version": meta.Version, "AppVersion": meta.AppVersion, "Description": meta.Description, "Type": meta.Type,
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30", "GitVersion": "v1.30.0"},
			"APIVersions": APIVersions{"v1", "apps/v1", "policy/v1", "autoscaling/v2", "monitoring.coreos.com/v1"},
		},
	}
	var docs []document
	notes := ""
	for _, name := range names {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") {
			continue
		}
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": name, "BasePath": path.Join(meta.Name, "templates")}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, name, data); err != nil {
			return nil, "", nil, err
		}
		out := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			notes = out
			continue
		}
		for _, part := range documentSeparator.Split(out, -1) {
			if strings.TrimSpace(part) == "" {
				continue
			}
			docs = append(docs, document{source: name, content: strings.Trim(part, "\n") + "\n", rank: kindRank(part)})
		}
	}
	sort.SliceStable(docs, func(i, j int) bool { return docs[i].rank < docs[j].rank })
	manifests := make([]Manifest, len(docs))
	for i, d := range docs {
		manifests[i] = Manifest{Source: d.source, Content: d.content}
	}
	return manifests, notes, values, nil
}

func main() {
	var files valueFiles
	flag.Var(&files, "f", "a values file (repeatable; later files win)")
	release := flag.String("release", "otelhouse", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	format := flag.String("format", "yaml", "yaml: like `helm template`; json: {manifests, notes, values}; values: the coalesced values only")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: helm-render [-f values.yaml]... [--release NAME] [--namespace NS] [--format yaml|json|values] CHART_DIR")
		os.Exit(2)
	}
	if *format == "values" {
		values, err := loadValues(flag.Arg(0), files)
		if err != nil {
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			os.Exit(1)
		}
		out, _ := json.Marshal(values)
		os.Stdout.Write(out)
		return
	}
	manifests, notes, values, err := render(flag.Arg(0), files, *release, *namespace)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	if *format == "json" {
		out, err := json.Marshal(map[string]interface{}{"manifests": manifests, "notes": notes, "values": values})
		if err != nil {
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			os.Exit(1)
		}
		os.Stdout.Write(out)
		return
	}
	for _, m := range manifests {
		fmt.Printf("---\n# Source: %s\n%s", m.Source, m.Content)
	}
}
