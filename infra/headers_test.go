package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// appHeaders reads the security headers prawn sends locally from the application's source:
// internal/web's page CSP and internal/httpapi's headers of every answer.
func appHeaders(t *testing.T) (consts map[string]string, headers map[string]string) {
	t.Helper()
	consts, headers = map[string]string{}, map[string]string{}
	for _, file := range []string{"../internal/web/web.go", "../internal/httpapi/secheaders.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), filepath.FromSlash(file), nil, 0)
		if err != nil {
			t.Fatalf("read the application's headers: %v", err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, name := range n.Names {
					if i < len(n.Values) {
						if s, ok := stringConst(n.Values[i]); ok {
							consts[filepath.Base(file)+":"+name.Name] = s
						}
					}
				}
			case *ast.CompositeLit:
				// {"Header-Name", []string{"value"}} entries of securityHeaders.
				if len(n.Elts) == 2 {
					key, ok := stringConst(n.Elts[0])
					vals, isList := n.Elts[1].(*ast.CompositeLit)
					if ok && isList && len(vals.Elts) == 1 {
						if v, ok := stringConst(vals.Elts[0]); ok {
							headers[key] = v
						}
					}
				}
			}
			return true
		})
	}
	return consts, headers
}

// stringConst evaluates a string literal or a + concatenation of them.
func stringConst(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		a, ok1 := stringConst(e.X)
		b, ok2 := stringConst(e.Y)
		return a + b, ok1 && ok2
	case *ast.ParenExpr:
		return stringConst(e.X)
	}
	return "", false
}

// TestSecurityHeadersMatchTheApplication keeps infra's copies of the headers (headers.go) equal to
// what prawn sends locally. When it fails, the application changed a header: copy the new value
// into headers.go so that the page on AWS gets it too.
func TestSecurityHeadersMatchTheApplication(t *testing.T) {
	consts, headers := appHeaders(t)
	for _, c := range []struct{ name, app, infra string }{
		{"page Content-Security-Policy", consts["web.go:contentSecurityPolicy"], pageCSP},
		{"API Content-Security-Policy", consts["secheaders.go:apiCSP"], apiCSP},
		{"Strict-Transport-Security", consts["secheaders.go:hsts"], hstsValue},
		{"X-Content-Type-Options", headers["X-Content-Type-Options"], contentTypeOptions},
		{"Referrer-Policy", headers["Referrer-Policy"], referrerPolicy},
		{"X-Frame-Options", headers["X-Frame-Options"], frameOptions},
		{"Permissions-Policy", headers["Permissions-Policy"], permissionsPolicy},
		{"Cross-Origin-Opener-Policy", headers["Cross-Origin-Opener-Policy"], crossOriginOpener},
	} {
		if c.app == "" {
			t.Errorf("%s: not found in the application's source (internal/web/web.go, internal/httpapi/secheaders.go); update appHeaders", c.name)
		} else if c.app != c.infra {
			t.Errorf("%s: the application sends %q, infra/headers.go has %q", c.name, c.app, c.infra)
		}
	}
	if want := fmt.Sprintf("max-age=%d; includeSubDomains", hstsMaxAgeSeconds); hstsValue != want {
		t.Errorf("hstsMaxAgeSeconds gives %q, the header is %q", want, hstsValue)
	}
	if len(headers) != 5 {
		t.Errorf("the application sets %d headers on every answer (%v); infra copies 5: add the new one to headers.go", len(headers), headers)
	}
}

// assertResponseHeaders checks the CloudFront response headers policies against the headers prawn
// sends locally (the constants of headers.go, which TestSecurityHeadersMatchTheApplication ties to
// the application's source).
func assertResponseHeaders(t *testing.T, raw cfnTemplate) {
	t.Helper()
	for _, p := range []struct {
		prefix, csp string
		override    bool
	}{
		{"PageHeaders", pageCSP, true},
		{"ApiHeaders", apiCSP, false},
		{"TrackerHeaders", apiCSP, true},
	} {
		_, res := raw.one(t, "AWS::CloudFront::ResponseHeadersPolicy", p.prefix)
		cfg := dig(res.Properties, "ResponseHeadersPolicyConfig")
		sec := dig(cfg, "SecurityHeadersConfig")
		got := map[string]string{}
		overrides := map[string]any{}
		for name, key := range map[string]string{
			"Content-Security-Policy": "ContentSecurityPolicy", "X-Content-Type-Options": "ContentTypeOptions",
			"X-Frame-Options": "FrameOptions", "Referrer-Policy": "ReferrerPolicy", "Strict-Transport-Security": "StrictTransportSecurity",
		} {
			h := dig(sec, key)
			if h == nil {
				continue
			}
			overrides[name] = dig(h, "Override")
			switch key {
			case "ContentSecurityPolicy":
				got[name] = fmt.Sprint(dig(h, "ContentSecurityPolicy"))
			case "ContentTypeOptions":
				got[name] = "nosniff" // CloudFront's only value
			case "FrameOptions":
				got[name] = fmt.Sprint(dig(h, "FrameOption"))
			case "ReferrerPolicy":
				got[name] = fmt.Sprint(dig(h, "ReferrerPolicy"))
			case "StrictTransportSecurity":
				age, _ := dig(h, "AccessControlMaxAgeSec").(float64)
				v := fmt.Sprintf("max-age=%d", int64(age))
				if dig(h, "IncludeSubdomains") == true {
					v += "; includeSubDomains"
				}
				if dig(h, "Preload") == true {
					v += "; preload"
				}
				got[name] = v
			}
		}
		if dig(sec, "XSSProtection") != nil {
			t.Errorf("%s sets X-XSS-Protection, which prawn does not send", p.prefix)
		}
		for _, h := range list(dig(cfg, "CustomHeadersConfig", "Items")) {
			name := fmt.Sprint(dig(h, "Header"))
			got[name], overrides[name] = fmt.Sprint(dig(h, "Value")), dig(h, "Override")
		}
		want := map[string]string{
			"Content-Security-Policy":    p.csp,
			"X-Content-Type-Options":     contentTypeOptions,
			"X-Frame-Options":            frameOptions,
			"Referrer-Policy":            referrerPolicy,
			"Strict-Transport-Security":  hstsValue,
			"Permissions-Policy":         permissionsPolicy,
			"Cross-Origin-Opener-Policy": crossOriginOpener,
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s: %s = %q, want %q (what prawn sends locally)", p.prefix, name, got[name], w)
			}
			if overrides[name] != p.override {
				t.Errorf("%s: %s override %v, want %v", p.prefix, name, overrides[name], p.override)
			}
		}
	}
}
