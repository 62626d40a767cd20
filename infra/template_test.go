package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
)

// cfnTemplate is a synthesized template as plain JSON values, for checks that follow references
// across resources (which function a policy belongs to, what a header's value resolves to).
type cfnTemplate struct {
	Resources map[string]cfnResource
}

type cfnResource struct {
	Type       string
	Properties map[string]any
	DependsOn  []string
	Deletion   string
}

func rawTemplate(t *testing.T, tpl assertions.Template) cfnTemplate {
	t.Helper()
	raw, err := json.Marshal(*tpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]struct {
			Type           string
			Properties     map[string]any
			DependsOn      any
			DeletionPolicy string
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := cfnTemplate{Resources: map[string]cfnResource{}}
	for id, r := range doc.Resources {
		res := cfnResource{Type: r.Type, Properties: r.Properties, Deletion: r.DeletionPolicy}
		switch d := r.DependsOn.(type) {
		case string:
			res.DependsOn = []string{d}
		case []any:
			for _, v := range d {
				res.DependsOn = append(res.DependsOn, v.(string))
			}
		}
		out.Resources[id] = res
	}
	return out
}

// ofType returns the logical ids of the resources of one type, sorted.
func (c cfnTemplate) ofType(typ string) []string {
	var ids []string
	for id, r := range c.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// one returns the only resource of typ whose logical id starts with prefix.
func (c cfnTemplate) one(t *testing.T, typ, prefix string) (string, cfnResource) {
	t.Helper()
	var found []string
	for _, id := range c.ofType(typ) {
		if strings.HasPrefix(id, prefix) {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s named %s*, got %v", typ, prefix, found)
	}
	return found[0], c.Resources[found[0]]
}

// functionByRole maps each IAM role's logical id to the Handler of the prawn function using it.
func (c cfnTemplate) functionByRole() map[string]string {
	out := map[string]string{}
	for _, id := range c.ofType("AWS::Lambda::Function") {
		p := c.Resources[id].Properties
		if p["Runtime"] != "provided.al2023" {
			continue
		}
		if role, ok := refOf(p["Role"]); ok {
			out[role] = p["Handler"].(string)
		}
	}
	return out
}

// grants lists, per prawn handler, every "action resource" pair its role's policies allow, with
// resources rendered by render.
func (c cfnTemplate) grants() map[string][]string {
	byRole := c.functionByRole()
	out := map[string][]string{}
	for _, id := range c.ofType("AWS::IAM::Policy") {
		p := c.Resources[id].Properties
		for _, role := range p["Roles"].([]any) {
			ref, _ := refOf(role)
			handler, ok := byRole[ref]
			if !ok {
				continue
			}
			for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				st := st.(map[string]any)
				for _, a := range list(st["Action"]) {
					for _, r := range list(st["Resource"]) {
						out[handler] = append(out[handler], fmt.Sprint(a)+" "+render(r))
					}
				}
			}
		}
	}
	return out
}

// list turns a CloudFormation scalar-or-list into a list.
func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// refOf returns X of {"Ref": X} or {"Fn::GetAtt": [X, ...]}.
func refOf(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	if r, ok := m["Ref"].(string); ok {
		return r, true
	}
	if g, ok := m["Fn::GetAtt"].([]any); ok && len(g) > 0 {
		s, ok := g[0].(string)
		return s, ok
	}
	return "", false
}

// render writes a CloudFormation value as a string: literals as they are, Fn::Join joined,
// {"Ref": X} as ${X} and {"Fn::GetAtt": [X, A]} as ${X.A}. Anything else is rendered as JSON.
func render(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if r, ok := v["Ref"].(string); ok {
			return "${" + r + "}"
		}
		if g, ok := v["Fn::GetAtt"].([]any); ok && len(g) == 2 {
			return fmt.Sprintf("${%v.%v}", g[0], g[1])
		}
		if j, ok := v["Fn::Join"].([]any); ok && len(j) == 2 {
			var parts []string
			for _, p := range j[1].([]any) {
				parts = append(parts, render(p))
			}
			return strings.Join(parts, j[0].(string))
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// dig walks nested maps by key.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
