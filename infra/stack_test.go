package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func TestMain(m *testing.M) {
	// Hermetic configuration: settings come only from the tests' context.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PRAWN_") || strings.HasPrefix(name, "CDK_") {
			os.Unsetenv(name)
		}
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// fakeAssets creates stand-ins for `make lambda` and `make frontend` output.
func fakeAssets(t *testing.T) (lambdaDir, frontendDir string) {
	t.Helper()
	lambdaDir, frontendDir = t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(lambdaDir, "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(frontendDir, "index.html"), []byte("<!doctype html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	return lambdaDir, frontendDir
}

// testContext is cdk.json's context (the feature flags) plus a minimal valid configuration.
func testContext(t *testing.T, overrides map[string]any) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var cdkJSON struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &cdkJSON); err != nil {
		t.Fatal(err)
	}
	ctx := cdkJSON.Context
	lambdaDir, frontendDir := fakeAssets(t)
	ctx["region"], ctx["alertEmail"] = "us-east-1", "ops@example.com"
	ctx["lambdaAssetDir"], ctx["frontendDir"] = lambdaDir, frontendDir
	for k, v := range overrides {
		ctx[k] = v
	}
	return ctx
}

// synthApp builds the prawn app for the given context overrides.
func synthApp(t *testing.T, overrides map[string]any) (Stacks, *Config) {
	t.Helper()
	ctx := testContext(t, overrides)
	cfg, err := LoadConfig(func(key string) any { return ctx[key] })
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir())})
	return NewPrawnApp(app, cfg), cfg
}

// check runs a jsii assertion, turning its panic into a test error.
func check(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assertion()
}

// template synthesizes stack (failing the test if synthesis fails, e.g. on cdk-nag errors).
func template(t *testing.T, stack awscdk.Stack) assertions.Template {
	t.Helper()
	var tpl assertions.Template
	check(t, "synthesize "+*stack.StackName(), func() { tpl = assertions.Template_FromStack(stack, nil) })
	if tpl == nil {
		t.FailNow()
	}
	return tpl
}

// assertNoNagErrors fails on every unsuppressed cdk-nag AwsSolutions error of stack.
func assertNoNagErrors(t *testing.T, stack awscdk.Stack) {
	t.Helper()
	var findings *[]*nagFinding
	check(t, "read annotations", func() {
		msgs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
		list := make([]*nagFinding, 0, len(*msgs))
		for _, m := range *msgs {
			list = append(list, &nagFinding{path: *m.Id, data: fmt.Sprint(m.Entry.Data)})
		}
		findings = &list
	})
	if findings == nil {
		return
	}
	for _, f := range *findings {
		t.Errorf("cdk-nag: %s: %s", f.path, f.data)
	}
}

type nagFinding struct{ path, data string }

// goFunctions returns the Properties of the Lambdas running the prawn binary, by Handler.
func goFunctions(t *testing.T, tpl assertions.Template) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, res := range *tpl.FindResources(jsii.String("AWS::Lambda::Function"), nil) {
		props := (*res)["Properties"].(map[string]any)
		if props["Runtime"] == "provided.al2023" {
			out[props["Handler"].(string)] = props
		}
	}
	if len(out) < 3 {
		t.Fatalf("want at least the api, rollup and migrate functions, got %v", keys(out))
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func env(props map[string]any) map[string]any {
	return props["Environment"].(map[string]any)["Variables"].(map[string]any)
}

func TestPrawnStackDefaults(t *testing.T) {
	stacks, cfg := synthApp(t, nil)
	if stacks.Certificate != nil {
		t.Error("CertificateStack exists without a custom domain")
	}
	tpl := template(t, stacks.Prawn)
	raw := rawTemplate(t, tpl)
	obj := func(m map[string]any) *map[string]any { return &m }
	arr := func(v ...any) *[]any { return &v }

	t.Run("network", func(t *testing.T) {
		check(t, "one VPC", func() { tpl.ResourceCountIs(jsii.String("AWS::EC2::VPC"), jsii.Number(1)) })
		check(t, "no NAT gateway", func() { tpl.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(0)) })
		check(t, "no NAT instance", func() { tpl.ResourceCountIs(jsii.String("AWS::EC2::Instance"), jsii.Number(0)) })
		check(t, "2 AZs x (public, isolated)", func() { tpl.ResourceCountIs(jsii.String("AWS::EC2::Subnet"), jsii.Number(4)) })
		check(t, "only the Secrets Manager endpoint, in one subnet", func() {
			tpl.ResourceCountIs(jsii.String("AWS::EC2::VPCEndpoint"), jsii.Number(1))
			tpl.ResourcePropertiesCountIs(jsii.String("AWS::EC2::VPCEndpoint"), obj(map[string]any{
				"ServiceName":       "com.amazonaws.us-east-1.secretsmanager",
				"VpcEndpointType":   "Interface",
				"PrivateDnsEnabled": true,
				"SubnetIds":         assertions.Match_ArrayEquals(arr(assertions.Match_AnyValue())),
			}), jsii.Number(1))
		})
		check(t, "no ingress from any CIDR", func() {
			tpl.ResourcePropertiesCountIs(jsii.String("AWS::EC2::SecurityGroupIngress"), obj(map[string]any{"CidrIp": assertions.Match_AnyValue()}), jsii.Number(0))
			tpl.ResourcePropertiesCountIs(jsii.String("AWS::EC2::SecurityGroup"), obj(map[string]any{
				"SecurityGroupIngress": assertions.Match_ArrayWith(arr(assertions.Match_ObjectLike(obj(map[string]any{"CidrIp": assertions.Match_AnyValue()})))),
			}), jsii.Number(0))
		})
		check(t, "reject flow log", func() {
			tpl.HasResourceProperties(jsii.String("AWS::EC2::FlowLog"), obj(map[string]any{"TrafficType": "REJECT"}))
		})
	})

	t.Run("database", func(t *testing.T) {
		check(t, "RDS instance", func() {
			tpl.HasResource(jsii.String("AWS::RDS::DBInstance"), obj(map[string]any{
				"DeletionPolicy": "Snapshot",
				"Properties": obj(map[string]any{
					"Engine":                          "postgres",
					"EngineVersion":                   "17",
					"DBInstanceClass":                 "db.t4g.micro",
					"AllocatedStorage":                "20",
					"StorageType":                     "gp3",
					"StorageEncrypted":                true,
					"PubliclyAccessible":              false,
					"MultiAZ":                         false,
					"DeletionProtection":              true,
					"BackupRetentionPeriod":           7,
					"EnableIAMDatabaseAuthentication": true,
					"DBName":                          "prawn",
					"EngineLifecycleSupport":          "open-source-rds-extended-support-disabled",
				}),
			}))
		})
		check(t, "rds.force_ssl=1", func() {
			tpl.HasResourceProperties(jsii.String("AWS::RDS::DBParameterGroup"), obj(map[string]any{
				"Parameters": obj(map[string]any{"rds.force_ssl": "1"}),
			}))
		})
		for user, prefix := range map[string]string{"prawn": "DatabaseSecret", "prawn_app": "DatabaseAppSecret"} {
			_, secret := raw.one(t, "AWS::SecretsManager::Secret", prefix)
			gen, _ := secret.Properties["GenerateSecretString"].(map[string]any)
			if secret.Deletion != "Retain" || gen["SecretStringTemplate"] != `{"username":"`+user+`"}` || gen["GenerateStringKey"] != "password" {
				t.Errorf("%s: deletion %q, generated %v; want a retained secret generated for %s", prefix, secret.Deletion, gen, user)
			}
		}
	})

	t.Run("functions", func(t *testing.T) {
		fns := goFunctions(t, tpl)
		if len(fns) != 3 {
			t.Fatalf("ingest=direct: want api, rollup and migrate, got %v", keys(fns))
		}
		want := map[string]struct{ memory, timeout, concurrency float64 }{
			"api": {256, 10, 20}, "rollup": {256, 120, 1}, "migrate": {256, 300, 1},
		}
		for name, w := range want {
			p := fns[name]
			if p["Architectures"].([]any)[0] != "arm64" || p["MemorySize"] != w.memory || p["Timeout"] != w.timeout || p["ReservedConcurrentExecutions"] != w.concurrency {
				t.Errorf("%s: arch %v memory %v timeout %v concurrency %v, want arm64 %v %v %v", name, p["Architectures"], p["MemorySize"], p["Timeout"], p["ReservedConcurrentExecutions"], w.memory, w.timeout, w.concurrency)
			}
			e := env(p)
			for _, k := range []string{"DB_HOST", "DB_PORT", "DB_NAME", "DB_SECRET_ARN", "PRAWN_DB_MAX_CONNS"} {
				if e[k] == nil {
					t.Errorf("%s: environment lacks %s", name, k)
				}
			}
			if e["DB_IAM_USER"] != nil {
				t.Errorf("%s: DB_IAM_USER set with dbAuth=secret", name)
			}
			if p["VpcConfig"] == nil || p["LoggingConfig"] == nil {
				t.Errorf("%s: not in the VPC or without its own log group", name)
			}
			if fmt.Sprint(fns["api"]["Code"]) != fmt.Sprint(p["Code"]) {
				t.Errorf("%s: code differs from api's; all share one artifact", name)
			}
		}
		api := env(fns["api"])
		for _, k := range []string{"PRAWN_INGEST_MODE", "PRAWN_QUEUE_URL"} {
			if api[k] != nil {
				t.Errorf("ingest=direct: api has %s=%v", k, api[k])
			}
		}
		if got := api["PRAWN_COUNTRY_HEADER"]; got != "CloudFront-Viewer-Country" {
			t.Errorf("api PRAWN_COUNTRY_HEADER = %v", got)
		}
		if got := env(fns["rollup"])["PRAWN_CANARY_PATH"]; got != "/_prawn/canary" {
			t.Errorf("rollup PRAWN_CANARY_PATH = %v", got)
		}
		if got := env(fns["rollup"])["PRAWN_ROLLUP_LINGER"]; got != "50s" {
			t.Errorf("rollup PRAWN_ROLLUP_LINGER = %v, want 50s (the 1-minute schedule less 10 s)", got)
		}
		check(t, "log retention", func() {
			tpl.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), obj(map[string]any{"RetentionInDays": float64(cfg.LogRetentionDays)}))
		})
		check(t, "migrate trigger", func() {
			tpl.HasResourceProperties(jsii.String("Custom::Trigger"), obj(map[string]any{
				"HandlerArn": assertions.Match_AnyValue(), "InvocationType": "RequestResponse",
			}))
		})
		check(t, "rollup schedule", func() {
			tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), obj(map[string]any{
				"ScheduleExpression": "rate(1 minute)", "State": "ENABLED",
			}))
		})
	})

	t.Run("least-privilege database logins", func(t *testing.T) { assertDatabaseLogins(t, raw, false) })

	t.Run("no queue with ingest=direct", func(t *testing.T) {
		for _, typ := range []string{"AWS::SQS::Queue", "AWS::SQS::QueuePolicy", "AWS::Lambda::EventSourceMapping"} {
			if ids := raw.ofType(typ); len(ids) != 0 {
				t.Errorf("%s exists: %v", typ, ids)
			}
		}
		for _, id := range raw.ofType("AWS::EC2::VPCEndpoint") {
			if s := render(raw.Resources[id].Properties["ServiceName"]); strings.HasSuffix(s, ".sqs") {
				t.Errorf("SQS endpoint %s exists", id)
			}
		}
		for _, id := range raw.ofType("AWS::CloudWatch::Alarm") {
			if strings.HasPrefix(id, "ViewDeadLetters") || strings.HasPrefix(id, "ViewQueueAge") {
				t.Errorf("queue alarm %s exists", id)
			}
		}
		for handler, gs := range raw.grants() {
			for _, g := range gs {
				if strings.HasPrefix(g, "sqs:") {
					t.Errorf("%s may %s", handler, g)
				}
			}
		}
	})

	t.Run("origin secret", func(t *testing.T) { assertOriginSecret(t, raw) })

	t.Run("api and cdn", func(t *testing.T) {
		check(t, "stage throttling", func() {
			tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), obj(map[string]any{
				"StageName":            "$default",
				"DefaultRouteSettings": obj(map[string]any{"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100}),
				"AccessLogSettings":    assertions.Match_ObjectLike(obj(map[string]any{"DestinationArn": assertions.Match_AnyValue()})),
			}))
		})
		check(t, "private bucket", func() {
			tpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), obj(map[string]any{
				"PublicAccessBlockConfiguration": obj(map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}),
			}))
		})
		check(t, "origin access control", func() { tpl.ResourceCountIs(jsii.String("AWS::CloudFront::OriginAccessControl"), jsii.Number(1)) })
		check(t, "frontend deployment", func() { tpl.ResourceCountIs(jsii.String("Custom::CDKBucketDeployment"), jsii.Number(1)) })
		assertBehaviours(t, raw)
	})

	t.Run("viewer headers reach the API", func(t *testing.T) { assertOriginRequestPolicy(t, raw) })

	t.Run("response headers", func(t *testing.T) { assertResponseHeaders(t, raw) })

	t.Run("monitoring", func(t *testing.T) {
		for _, a := range []struct {
			id, op    string
			threshold float64
			periods   float64
			missing   string
			metric    string
		}{
			{"RollupErrors", "GreaterThanOrEqualToThreshold", 1, 1, "notBreaching", "Errors"},
			{"RollupMissedRuns", "LessThanThreshold", 1, 3, "breaching", "Invocations"},
			{"Api5xx", "GreaterThanOrEqualToThreshold", 5, 1, "notBreaching", "5xx"},
			{"ApiThrottles", "GreaterThanOrEqualToThreshold", 1, 1, "notBreaching", "Throttles"},
			{"CanaryMissing", "LessThanThreshold", 1, 2, "breaching", "CanaryOk"},
		} {
			check(t, "alarm "+a.id, func() {
				tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), obj(map[string]any{
					"MetricName": a.metric, "ComparisonOperator": a.op, "Threshold": a.threshold,
					"EvaluationPeriods": a.periods, "TreatMissingData": a.missing,
					"AlarmActions": arr(obj(map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^AlarmTopic"))})),
				}))
			})
		}
		check(t, "5 alarms with ingest=direct", func() { tpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Alarm"), jsii.Number(5)) })
		check(t, "alarm e-mail", func() {
			tpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), obj(map[string]any{"Protocol": "email", "Endpoint": "ops@example.com"}))
		})
		check(t, "budget", func() {
			tpl.HasResourceProperties(jsii.String("AWS::Budgets::Budget"), obj(map[string]any{
				"Budget": obj(map[string]any{"BudgetType": "COST", "TimeUnit": "MONTHLY", "BudgetLimit": obj(map[string]any{"Amount": 1, "Unit": "USD"})}),
				"NotificationsWithSubscribers": assertions.Match_ArrayWith(arr(assertions.Match_ObjectLike(obj(map[string]any{
					"Subscribers": arr(obj(map[string]any{"SubscriptionType": "EMAIL", "Address": "ops@example.com"})),
				})))),
			}))
		})
	})

	t.Run("canary", func(t *testing.T) { assertCanary(t, raw) })

	t.Run("cdk-nag", func(t *testing.T) { assertNoNagErrors(t, stacks.Prawn) })

	t.Run("connection arithmetic", func(t *testing.T) {
		// db.t4g.micro has 1 GiB: LEAST(1073741824/9531392, 5000) = 112 connections.
		if got := MaxConnections(dbInstanceMemoryBytes["t4g.micro"]); got != 112 {
			t.Fatalf("max_connections of db.t4g.micro = %d, want 112", got)
		}
		assertConnectionBudget(t, tpl, cfg, 3)
	})
}

// assertConnectionBudget recomputes, from the template, how many connections all prawn functions
// can hold at once (reserved concurrency x pool size) and checks it against the budget.
func assertConnectionBudget(t *testing.T, tpl assertions.Template, cfg *Config, functions int) {
	t.Helper()
	total, parts := 0, []string{}
	fns := goFunctions(t, tpl)
	if len(fns) != functions {
		t.Fatalf("want %d prawn functions, got %v", functions, keys(fns))
	}
	for name, p := range fns {
		concurrency, ok := p["ReservedConcurrentExecutions"].(float64)
		if !ok {
			t.Fatalf("%s has no reserved concurrency: its connections are unbounded", name)
		}
		pool, err := strconv.Atoi(fmt.Sprint(env(p)["PRAWN_DB_MAX_CONNS"]))
		if err != nil {
			t.Fatalf("%s: PRAWN_DB_MAX_CONNS: %v", name, err)
		}
		total += int(concurrency) * pool
		parts = append(parts, fmt.Sprintf("%s %v x %d", name, concurrency, pool))
	}
	budget := ConnectionBudget(dbInstanceMemoryBytes[cfg.DBInstanceClass])
	t.Logf("%s = %d connections; budget %d of max_connections %d", strings.Join(parts, " + "), total, budget, MaxConnections(dbInstanceMemoryBytes[cfg.DBInstanceClass]))
	if total != cfg.PeakConnections() || total >= budget {
		t.Errorf("Lambdas may open %d connections (config says %d), must stay under %d", total, cfg.PeakConnections(), budget)
	}
}

// assertDatabaseLogins checks that only migrate can read the master secret (or, with IAM auth,
// connect as the master user), and that the other functions log in as the app role.
func assertDatabaseLogins(t *testing.T, raw cfnTemplate, iamAuth bool) {
	t.Helper()
	fns := map[string]map[string]any{}
	for _, id := range raw.ofType("AWS::Lambda::Function") {
		if p := raw.Resources[id].Properties; p["Runtime"] == "provided.al2023" {
			fns[p["Handler"].(string)] = dig(p, "Environment", "Variables").(map[string]any)
		}
	}
	grants := raw.grants()
	var master, app string
	if !iamAuth {
		master, _ = raw.one(t, "AWS::SecretsManager::Secret", "DatabaseSecret")
		app, _ = raw.one(t, "AWS::SecretsManager::Secret", "DatabaseAppSecret")
	}
	for handler, e := range fns {
		has := func(grant string) bool { return slices.Contains(grants[handler], grant) }
		var want map[string]any
		switch {
		case iamAuth && handler == "migrate":
			want = map[string]any{"DB_IAM_USER": "prawn", "DB_APP_USER": "prawn_app", "DB_SECRET_ARN": nil, "DB_APP_SECRET_ARN": nil}
		case iamAuth:
			want = map[string]any{"DB_IAM_USER": "prawn_app", "DB_APP_USER": nil, "DB_SECRET_ARN": nil, "DB_APP_SECRET_ARN": nil}
		case handler == "migrate":
			want = map[string]any{"DB_SECRET_ARN": "${" + master + "}", "DB_APP_SECRET_ARN": "${" + app + "}", "DB_APP_USER": "prawn_app", "DB_IAM_USER": nil}
		default:
			want = map[string]any{"DB_SECRET_ARN": "${" + app + "}", "DB_APP_SECRET_ARN": nil, "DB_APP_USER": nil, "DB_IAM_USER": nil}
		}
		for k, w := range want {
			got, ok := e[k]
			switch {
			case w == nil && ok:
				t.Errorf("%s: %s=%v, want it unset", handler, k, render(got))
			case w != nil && render(got) != w:
				t.Errorf("%s: %s=%v, want %v", handler, k, render(got), w)
			}
		}
		if iamAuth {
			user := "prawn_app"
			if handler == "migrate" {
				user = "prawn"
			}
			var connects []string
			for _, g := range grants[handler] {
				if strings.HasPrefix(g, "rds-db:connect ") {
					connects = append(connects, g)
				}
				if strings.HasPrefix(g, "secretsmanager:") {
					t.Errorf("%s may %s with dbAuth=iam", handler, g)
				}
			}
			if len(connects) != 1 || !strings.Contains(connects[0], ":dbuser:${Database") || !strings.HasSuffix(connects[0], ".DbiResourceId}/"+user) {
				t.Errorf("%s: rds-db:connect grants %v, want exactly one, as %s", handler, connects, user)
			}
			continue
		}
		readsMaster := has("secretsmanager:GetSecretValue ${" + master + "}")
		readsApp := has("secretsmanager:GetSecretValue ${" + app + "}")
		if readsMaster != (handler == "migrate") {
			t.Errorf("%s reads the master secret: %v (only migrate may)", handler, readsMaster)
		}
		if !readsApp {
			t.Errorf("%s cannot read the app role's secret", handler)
		}
		for _, g := range grants[handler] {
			if strings.HasPrefix(g, "rds-db:") {
				t.Errorf("%s may %s with dbAuth=secret", handler, g)
			}
		}
	}
	// migrate runs first: every other function changes only after the trigger has run it.
	triggerID := raw.ofType("Custom::Trigger")
	if len(triggerID) != 1 {
		t.Fatalf("want one migrate trigger, got %v", triggerID)
	}
	for _, id := range raw.ofType("AWS::Lambda::Function") {
		r := raw.Resources[id]
		if r.Properties["Runtime"] != "provided.al2023" {
			continue
		}
		after := slices.Contains(r.DependsOn, triggerID[0])
		if handler := r.Properties["Handler"]; after != (handler != "migrate") {
			t.Errorf("%s depends on the migrate trigger: %v", handler, after)
		}
	}
}

// assertOriginSecret checks that the X-Origin-Verify value is generated at deploy, that the
// template holds only dynamic references to it, and that CloudFront, the api function and the
// canary event resolve it from the same secret.
func assertOriginSecret(t *testing.T, raw cfnTemplate) {
	t.Helper()
	secretID, secret := raw.one(t, "AWS::SecretsManager::Secret", "OriginVerifySecret")
	gen, _ := secret.Properties["GenerateSecretString"].(map[string]any)
	if gen == nil || gen["PasswordLength"].(float64) < 32 || gen["SecretStringTemplate"] != nil {
		t.Errorf("origin secret is not a generated string of at least 32 characters: %v", secret.Properties)
	}
	for _, id := range raw.ofType("AWS::SecretsManager::Secret") {
		if v, ok := raw.Resources[id].Properties["SecretString"]; ok {
			t.Errorf("secret %s has a value in the template: %v", id, v)
		}
	}
	want := "{{resolve:secretsmanager:${" + secretID + "}:SecretString:::}}"

	_, dist := raw.one(t, "AWS::CloudFront::Distribution", "Distribution")
	var headers []string
	for _, o := range dig(dist.Properties, "DistributionConfig", "Origins").([]any) {
		for _, h := range list(dig(o, "OriginCustomHeaders")) {
			if h == nil {
				continue
			}
			name := dig(h, "HeaderName")
			value := dig(h, "HeaderValue")
			if _, literal := value.(string); literal {
				t.Errorf("origin header %v is a literal in the template", name)
			}
			if dig(o, "CustomOriginConfig") == nil {
				t.Errorf("origin header %v is sent to the S3 origin", name)
			}
			headers = append(headers, fmt.Sprintf("%v: %s", name, render(value)))
		}
	}
	if len(headers) != 1 || headers[0] != "X-Origin-Verify: "+want {
		t.Errorf("origin headers %v, want X-Origin-Verify: %s", headers, want)
	}

	for _, id := range raw.ofType("AWS::Lambda::Function") {
		p := raw.Resources[id].Properties
		if p["Runtime"] != "provided.al2023" {
			continue
		}
		v, ok := dig(p, "Environment", "Variables").(map[string]any)["PRAWN_ORIGIN_SECRET"]
		switch handler := p["Handler"]; {
		case handler == "api" && (!ok || render(v) != want):
			t.Errorf("api PRAWN_ORIGIN_SECRET = %v, want %s", render(v), want)
		case handler == "api":
			if _, literal := v.(string); literal {
				t.Error("api PRAWN_ORIGIN_SECRET is a literal in the template")
			}
		case ok:
			t.Errorf("%s has PRAWN_ORIGIN_SECRET; only api checks it", handler)
		}
	}

	// No function may read the secret at run time: CloudFormation resolves it at deploy.
	for handler, gs := range raw.grants() {
		for _, g := range gs {
			if strings.Contains(g, "${"+secretID+"}") {
				t.Errorf("%s may %s", handler, g)
			}
		}
	}

	// Every mention of the secret in the template is one of the three dynamic references.
	all, _ := json.Marshal(raw.Resources)
	if n := strings.Count(string(all), `{"Ref":"`+secretID+`"}`); n != 3 {
		t.Errorf("the origin secret is referenced %d times, want 3 (origin header, api environment, canary event)", n)
	}
}

// assertOriginRequestPolicy checks which viewer headers CloudFront sends to the API.
func assertOriginRequestPolicy(t *testing.T, raw cfnTemplate) {
	t.Helper()
	policyID, policy := raw.one(t, "AWS::CloudFront::OriginRequestPolicy", "ApiOriginRequest")
	cfg := dig(policy.Properties, "OriginRequestPolicyConfig")
	if got := dig(cfg, "HeadersConfig", "HeaderBehavior"); got != "whitelist" {
		t.Errorf("header behaviour %v, want whitelist (all-viewer forwards Host, which API Gateway refuses)", got)
	}
	var names []string
	for _, h := range dig(cfg, "HeadersConfig", "Headers").([]any) {
		names = append(names, strings.ToLower(h.(string)))
	}
	for _, need := range []string{"cloudfront-viewer-address", "cloudfront-viewer-country", "user-agent", "content-type", "origin", "sec-purpose"} {
		if !slices.Contains(names, need) {
			t.Errorf("origin request policy does not forward %s: %v", need, names)
		}
	}
	for _, never := range []string{"host", "x-origin-verify", "x-forwarded-for"} {
		if slices.Contains(names, never) {
			t.Errorf("origin request policy forwards %s", never)
		}
	}
	if len(names) > 10 {
		t.Errorf("%d headers: CloudFront's default quota is 10 per origin request policy", len(names))
	}
	if dig(cfg, "QueryStringsConfig", "QueryStringBehavior") != "all" || dig(cfg, "CookiesConfig", "CookieBehavior") != "none" {
		t.Errorf("query strings %v, cookies %v; want all, none", dig(cfg, "QueryStringsConfig"), dig(cfg, "CookiesConfig"))
	}
	_, dist := raw.one(t, "AWS::CloudFront::Distribution", "Distribution")
	for _, b := range dig(dist.Properties, "DistributionConfig", "CacheBehaviors").([]any) {
		p := dig(b, "PathPattern")
		uses := render(dig(b, "OriginRequestPolicyId")) == "${"+policyID+"}"
		if isAPI := p == apiPathPattern || p == badgePath; uses != isAPI {
			t.Errorf("behaviour %v uses the API origin request policy: %v", p, uses)
		}
	}
}

// assertBehaviours checks the CloudFront behaviours, their order and cache policies.
func assertBehaviours(t *testing.T, raw cfnTemplate) {
	t.Helper()
	const cachingDisabled, securityHeadersManaged = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "67f7725c-6f97-4210-82d7-5512b31e9d03"
	_, dist := raw.one(t, "AWS::CloudFront::Distribution", "Distribution")
	cfg := dig(dist.Properties, "DistributionConfig")
	def := dig(cfg, "DefaultCacheBehavior")
	page, _ := raw.one(t, "AWS::CloudFront::ResponseHeadersPolicy", "PageHeaders")
	api, _ := raw.one(t, "AWS::CloudFront::ResponseHeadersPolicy", "ApiHeaders")
	tracker, _ := raw.one(t, "AWS::CloudFront::ResponseHeadersPolicy", "TrackerHeaders")
	if got := render(dig(def, "ResponseHeadersPolicyId")); got != "${"+page+"}" || dig(def, "ViewerProtocolPolicy") != "redirect-to-https" {
		t.Errorf("default behaviour: headers policy %s, viewer %v; want ${%s}, redirect-to-https", got, dig(def, "ViewerProtocolPolicy"), page)
	}
	all, _ := json.Marshal(cfg)
	if strings.Contains(string(all), securityHeadersManaged) {
		t.Error("a behaviour still uses the managed SecurityHeadersPolicy")
	}
	byPath := map[string]map[string]any{}
	var order []string
	for _, b := range dig(cfg, "CacheBehaviors").([]any) {
		p := dig(b, "PathPattern").(string)
		byPath[p], order = b.(map[string]any), append(order, p)
	}
	if want := []string{badgePath, apiPathPattern, trackerScriptPath}; !slices.Equal(order, want) {
		t.Errorf("behaviours %v, want %v (the badge before /api/*)", order, want)
	}
	apiOrigin := dig(byPath[apiPathPattern], "TargetOriginId")
	for _, p := range []string{apiPathPattern, badgePath} {
		b := byPath[p]
		if dig(b, "CachePolicyId") != cachingDisabled || render(dig(b, "ResponseHeadersPolicyId")) != "${"+api+"}" || dig(b, "TargetOriginId") != apiOrigin {
			t.Errorf("%s: cache %v, headers %v, origin %v; want CachingDisabled, ${%s}, the API", p, dig(b, "CachePolicyId"), render(dig(b, "ResponseHeadersPolicyId")), dig(b, "TargetOriginId"), api)
		}
	}
	if m := fmt.Sprint(dig(byPath[apiPathPattern], "AllowedMethods")); !strings.Contains(m, "POST") || dig(byPath[apiPathPattern], "ViewerProtocolPolicy") != "https-only" {
		t.Errorf("/api/*: methods %s, viewer %v", m, dig(byPath[apiPathPattern], "ViewerProtocolPolicy"))
	}
	if m := fmt.Sprint(dig(byPath[badgePath], "AllowedMethods")); m != "[GET HEAD]" {
		t.Errorf("%s: methods %s, want GET and HEAD", badgePath, m)
	}

	js := byPath[trackerScriptPath]
	if dig(js, "TargetOriginId") != dig(def, "TargetOriginId") || dig(js, "Compress") != true || render(dig(js, "ResponseHeadersPolicyId")) != "${"+tracker+"}" {
		t.Errorf("%s: origin %v (want the bucket %v), compress %v, headers %v", trackerScriptPath, dig(js, "TargetOriginId"), dig(def, "TargetOriginId"), dig(js, "Compress"), render(dig(js, "ResponseHeadersPolicyId")))
	}
	cacheID, ok := refOf(dig(js, "CachePolicyId"))
	if !ok {
		t.Fatalf("%s: cache policy %v is not the stack's own", trackerScriptPath, dig(js, "CachePolicyId"))
	}
	cp := dig(raw.Resources[cacheID].Properties, "CachePolicyConfig")
	key := dig(cp, "ParametersInCacheKeyAndForwardedToOrigin")
	if ttl, _ := dig(cp, "DefaultTTL").(float64); ttl < 86400 || dig(key, "EnableAcceptEncodingGzip") != true || dig(key, "EnableAcceptEncodingBrotli") != true {
		t.Errorf("%s cache policy: default TTL %v, gzip %v, brotli %v; want at least a day and both encodings", trackerScriptPath, dig(cp, "DefaultTTL"), dig(key, "EnableAcceptEncodingGzip"), dig(key, "EnableAcceptEncodingBrotli"))
	}
	var cacheControl any
	for _, h := range dig(raw.Resources[tracker].Properties, "ResponseHeadersPolicyConfig", "CustomHeadersConfig", "Items").([]any) {
		if dig(h, "Header") == "Cache-Control" {
			cacheControl = dig(h, "Value")
		}
	}
	if cacheControl != trackerCacheControl || !strings.Contains(trackerCacheControl, "max-age=86400") {
		t.Errorf("%s Cache-Control %v, want %q", trackerScriptPath, cacheControl, trackerCacheControl)
	}
}

// assertCanary checks the hourly synthetic view and the alarm that watches for it.
func assertCanary(t *testing.T, raw cfnTemplate) {
	t.Helper()
	apiID, rollupID := "", ""
	for _, id := range raw.ofType("AWS::Lambda::Function") {
		switch raw.Resources[id].Properties["Handler"] {
		case "api":
			apiID = id
		case "rollup":
			rollupID = id
		}
	}
	_, rule := raw.one(t, "AWS::Events::Rule", "CanarySchedule")
	if rule.Properties["ScheduleExpression"] != "rate(1 hour)" || rule.Properties["State"] != "ENABLED" {
		t.Errorf("canary schedule %v %v", rule.Properties["ScheduleExpression"], rule.Properties["State"])
	}
	targets := rule.Properties["Targets"].([]any)
	if len(targets) != 1 || render(dig(targets[0], "Arn")) != "${"+apiID+".Arn}" {
		t.Fatalf("canary targets %v, want the api function", targets)
	}
	// The dynamic reference is a placeholder here; the rest of the input must be the event.
	input := render(dig(targets[0], "Input"))
	var event struct {
		Version        string            `json:"version"`
		RawPath        string            `json:"rawPath"`
		Headers        map[string]string `json:"headers"`
		Body           string            `json:"body"`
		IsBase64       bool              `json:"isBase64Encoded"`
		RequestContext struct {
			HTTP struct {
				Method, Path, SourceIP string
			} `json:"http"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal([]byte(input), &event); err != nil {
		t.Fatalf("canary input is not JSON: %v\n%s", err, input)
	}
	var body struct{ Host, Path string }
	if err := json.Unmarshal([]byte(event.Body), &body); err != nil {
		t.Fatalf("canary body %q: %v", event.Body, err)
	}
	if body.Host != canaryHost {
		t.Errorf("canary host %q, want the reserved %q that reads of every host leave out", body.Host, canaryHost)
	}
	// The event is the one the app's tests record (internal/lambda's canary fixture), secret aside.
	var fixture map[string]any
	b, err := os.ReadFile("../internal/lambda/testdata/canary-event.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fixture); err != nil {
		t.Fatal(err)
	}
	var synthesized map[string]any
	if err := json.Unmarshal([]byte(input), &synthesized); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []map[string]any{fixture, synthesized} {
		delete(ev["headers"].(map[string]any), "x-origin-verify")
	}
	if fmt.Sprint(fixture) != fmt.Sprint(synthesized) {
		t.Errorf("canary event %v\nthe app's fixture %v", synthesized, fixture)
	}
	secretID, _ := raw.one(t, "AWS::SecretsManager::Secret", "OriginVerifySecret")
	canary := env(raw.Resources[rollupID].Properties)["PRAWN_CANARY_PATH"]
	if event.Version != "2.0" || event.RawPath != "/api/views" || event.RequestContext.HTTP.Method != "POST" || event.RequestContext.HTTP.Path != "/api/views" ||
		event.IsBase64 || body.Path != canary || body.Path != canaryPath || event.Headers["content-type"] != "application/json" {
		t.Errorf("canary event %+v body %+v, want an HTTP API v2 POST /api/views of %v", event, body, canary)
	}
	if got, want := event.Headers["x-origin-verify"], "{{resolve:secretsmanager:${"+secretID+"}:SecretString:::}}"; got != want {
		t.Errorf("canary x-origin-verify %q, want %q", got, want)
	}
	if retry := dig(targets[0], "RetryPolicy", "MaximumRetryAttempts"); retry == nil || retry.(float64) < 1 {
		t.Errorf("canary retries %v", retry)
	}

	_, filter := raw.one(t, "AWS::Logs::MetricFilter", "CanaryOkFilter")
	mt := filter.Properties["MetricTransformations"].([]any)[0]
	rollupLogs, _ := refOf(filter.Properties["LogGroupName"])
	if filter.Properties["FilterPattern"] != `{ $.msg = "canary_ok" }` || dig(mt, "MetricNamespace") != "prawn" || dig(mt, "MetricName") != "CanaryOk" || dig(mt, "MetricValue") != "1" ||
		render(dig(raw.Resources[rollupID].Properties, "LoggingConfig", "LogGroup")) != "${"+rollupLogs+"}" {
		t.Errorf("canary metric filter %v on %s; want msg=canary_ok in the rollup's log group", filter.Properties, rollupLogs)
	}
	_, alarm := raw.one(t, "AWS::CloudWatch::Alarm", "CanaryMissing")
	if p := alarm.Properties; p["Namespace"] != "prawn" || p["MetricName"] != "CanaryOk" || p["Period"] != float64(3600) || p["Statistic"] != "Sum" || p["TreatMissingData"] != "breaching" {
		t.Errorf("CanaryMissing %v", p)
	}
}

func TestPrawnStackIAMAuth(t *testing.T) {
	stacks, _ := synthApp(t, map[string]any{"dbAuth": "iam", "rollupRateMinutes": "15", "removalPolicy": "destroy", "deletionProtection": "false"})
	tpl := template(t, stacks.Prawn)
	raw := rawTemplate(t, tpl)
	check(t, "no endpoint", func() { tpl.ResourceCountIs(jsii.String("AWS::EC2::VPCEndpoint"), jsii.Number(0)) })
	if ids := raw.ofType("AWS::SecretsManager::Secret"); len(ids) != 2 {
		t.Errorf("secrets %v, want the master secret and the origin secret only (the app role needs no password)", ids)
	}
	assertDatabaseLogins(t, raw, true)
	check(t, "rate", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), &map[string]any{"ScheduleExpression": "rate(15 minutes)"})
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), &map[string]any{
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{"PRAWN_ROLLUP_LINGER": "60s"})}})
	})
	check(t, "destroy", func() {
		tpl.HasResource(jsii.String("AWS::RDS::DBInstance"), &map[string]any{
			"DeletionPolicy": "Delete", "Properties": assertions.Match_ObjectLike(&map[string]any{"DeletionProtection": false}),
		})
	})
	assertOriginSecret(t, raw)
	assertNoNagErrors(t, stacks.Prawn)
}

func TestCustomDomainCreatesCertificateStack(t *testing.T) {
	stacks, _ := synthApp(t, map[string]any{"region": "eu-central-1", "domainName": "stats.example.org"})
	if stacks.Certificate == nil {
		t.Fatal("no CertificateStack for a custom domain without certificateArn")
	}
	if r := *stacks.Certificate.Region(); r != "us-east-1" {
		t.Errorf("CertificateStack region %s, want us-east-1", r)
	}
	cert := template(t, stacks.Certificate)
	check(t, "certificate", func() {
		cert.HasResourceProperties(jsii.String("AWS::CertificateManager::Certificate"), &map[string]any{"DomainName": "stats.example.org", "ValidationMethod": "DNS"})
	})
	tpl := template(t, stacks.Prawn)
	check(t, "alias and TLS policy", func() {
		tpl.HasResourceProperties(jsii.String("AWS::CloudFront::Distribution"), &map[string]any{
			"DistributionConfig": assertions.Match_ObjectLike(&map[string]any{
				"Aliases":           &[]any{"stats.example.org"},
				"ViewerCertificate": assertions.Match_ObjectLike(&map[string]any{"MinimumProtocolVersion": "TLSv1.2_2021", "SslSupportMethod": "sni-only"}),
			}),
		})
	})
	check(t, "endpoint in eu-central-1", func() {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::VPCEndpoint"), &map[string]any{"ServiceName": "com.amazonaws.eu-central-1.secretsmanager"})
	})
	assertNoNagErrors(t, stacks.Certificate)
	assertNoNagErrors(t, stacks.Prawn)
}

func TestCertificateARNAndBastion(t *testing.T) {
	arn := "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
	stacks, _ := synthApp(t, map[string]any{"domainName": "stats.example.org", "certificateArn": arn, "bastion": true})
	if stacks.Certificate != nil {
		t.Error("CertificateStack created although certificateArn is given")
	}
	tpl := template(t, stacks.Prawn)
	check(t, "imported certificate", func() {
		tpl.HasResourceProperties(jsii.String("AWS::CloudFront::Distribution"), &map[string]any{
			"DistributionConfig": assertions.Match_ObjectLike(&map[string]any{
				"ViewerCertificate": assertions.Match_ObjectLike(&map[string]any{"AcmCertificateArn": arn}),
			}),
		})
	})
	check(t, "bastion", func() {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::Instance"), &map[string]any{"InstanceType": "t4g.nano"})
	})
	check(t, "database admits the bastion's security group", func() {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::SecurityGroupIngress"), &map[string]any{
			"Description":           "operator port forwarding through the SSM bastion",
			"SourceSecurityGroupId": &map[string]any{"Fn::GetAtt": &[]any{assertions.Match_StringLikeRegexp(jsii.String("^BastionInstanceSecurityGroup")), "GroupId"}},
		})
	})
	check(t, "bastion has no inbound rule", func() {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::SecurityGroup"), &map[string]any{
			"GroupDescription":     assertions.Match_StringLikeRegexp(jsii.String("Bastion")),
			"SecurityGroupIngress": assertions.Match_Absent(),
		})
	})
	assertNoNagErrors(t, stacks.Prawn)
}
