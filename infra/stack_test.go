package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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

// goFunctions returns the Properties of the Lambdas running the prawn binary.
func goFunctions(t *testing.T, tpl assertions.Template) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, res := range *tpl.FindResources(jsii.String("AWS::Lambda::Function"), nil) {
		props := (*res)["Properties"].(map[string]any)
		if props["Runtime"] == "provided.al2023" {
			out[props["Handler"].(string)] = props
		}
	}
	if len(out) != 3 {
		t.Fatalf("want the api, rollup and migrate functions, got %v", keys(out))
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
	obj := func(m map[string]any) *map[string]any { return &m }
	arr := func(v ...any) *[]any { return &v }

	t.Run("network", func(t *testing.T) {
		check(t, "one VPC", func() { tpl.ResourceCountIs(jsii.String("AWS::EC2::VPC"), jsii.Number(1)) })
		check(t, "no NAT gateway", func() { tpl.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(0)) })
		check(t, "no NAT instance", func() { tpl.ResourceCountIs(jsii.String("AWS::EC2::Instance"), jsii.Number(0)) })
		check(t, "2 AZs x (public, isolated)", func() { tpl.ResourceCountIs(jsii.String("AWS::EC2::Subnet"), jsii.Number(4)) })
		check(t, "one Secrets Manager endpoint in one subnet", func() {
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
		check(t, "generated secret, kept with the snapshot", func() {
			tpl.HasResource(jsii.String("AWS::SecretsManager::Secret"), obj(map[string]any{
				"DeletionPolicy": "Retain",
				"Properties": obj(map[string]any{
					"GenerateSecretString": assertions.Match_ObjectLike(obj(map[string]any{"SecretStringTemplate": `{"username":"prawn"}`, "GenerateStringKey": "password"})),
				}),
			}))
		})
	})

	t.Run("functions", func(t *testing.T) {
		fns := goFunctions(t, tpl)
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
			if p["Code"] != nil && fmt.Sprint(fns["api"]["Code"]) != fmt.Sprint(p["Code"]) {
				t.Errorf("%s: code differs from api's; all three share one artifact", name)
			}
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
				"ScheduleExpression": "rate(5 minutes)", "State": "ENABLED",
			}))
		})
	})

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
		check(t, "distribution", func() {
			tpl.HasResourceProperties(jsii.String("AWS::CloudFront::Distribution"), obj(map[string]any{
				"DistributionConfig": assertions.Match_ObjectLike(obj(map[string]any{
					"DefaultRootObject": "index.html",
					"DefaultCacheBehavior": assertions.Match_ObjectLike(obj(map[string]any{
						"ViewerProtocolPolicy":    "redirect-to-https",
						"ResponseHeadersPolicyId": "67f7725c-6f97-4210-82d7-5512b31e9d03", // managed SecurityHeadersPolicy
					})),
					"CacheBehaviors": assertions.Match_ArrayWith(arr(assertions.Match_ObjectLike(obj(map[string]any{
						"PathPattern":             "/api/*",
						"ViewerProtocolPolicy":    "https-only",
						"ResponseHeadersPolicyId": "67f7725c-6f97-4210-82d7-5512b31e9d03",
						"CachePolicyId":           "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", // managed CachingDisabled
					})))),
				})),
			}))
		})
		check(t, "frontend deployment", func() { tpl.ResourceCountIs(jsii.String("Custom::CDKBucketDeployment"), jsii.Number(1)) })
	})

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
		} {
			check(t, "alarm "+a.id, func() {
				tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), obj(map[string]any{
					"MetricName": a.metric, "ComparisonOperator": a.op, "Threshold": a.threshold,
					"EvaluationPeriods": a.periods, "TreatMissingData": a.missing,
					"AlarmActions": arr(obj(map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^AlarmTopic"))})),
				}))
			})
		}
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

	t.Run("cdk-nag", func(t *testing.T) { assertNoNagErrors(t, stacks.Prawn) })

	t.Run("connection arithmetic", func(t *testing.T) {
		// db.t4g.micro has 1 GiB: LEAST(1073741824/9531392, 5000) = 112 connections.
		if got := MaxConnections(dbInstanceMemoryBytes["t4g.micro"]); got != 112 {
			t.Fatalf("max_connections of db.t4g.micro = %d, want 112", got)
		}
		total, parts := 0, []string{}
		for name, p := range goFunctions(t, tpl) {
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
	})
}

func TestPrawnStackIAMAuth(t *testing.T) {
	stacks, _ := synthApp(t, map[string]any{"dbAuth": "iam", "rollupRateMinutes": "15", "removalPolicy": "destroy", "deletionProtection": "false"})
	tpl := template(t, stacks.Prawn)
	check(t, "no endpoint", func() { tpl.ResourceCountIs(jsii.String("AWS::EC2::VPCEndpoint"), jsii.Number(0)) })
	for name, p := range goFunctions(t, tpl) {
		e := env(p)
		if e["DB_IAM_USER"] != "prawn" || e["DB_SECRET_ARN"] != nil {
			t.Errorf("%s: DB_IAM_USER=%v DB_SECRET_ARN=%v, want prawn and unset", name, e["DB_IAM_USER"], e["DB_SECRET_ARN"])
		}
	}
	check(t, "rds-db:connect", func() {
		tpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), &map[string]any{
			"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Action": "rds-db:connect"}),
			})}),
		})
	})
	check(t, "no secret read", func() {
		tpl.ResourcePropertiesCountIs(jsii.String("AWS::IAM::Policy"), &map[string]any{
			"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Action": assertions.Match_ArrayWith(&[]any{"secretsmanager:GetSecretValue"})}),
			})}),
		}, jsii.Number(0))
	})
	check(t, "rate", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), &map[string]any{"ScheduleExpression": "rate(15 minutes)"})
	})
	check(t, "destroy", func() {
		tpl.HasResource(jsii.String("AWS::RDS::DBInstance"), &map[string]any{
			"DeletionPolicy": "Delete", "Properties": assertions.Match_ObjectLike(&map[string]any{"DeletionProtection": false}),
		})
	})
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
