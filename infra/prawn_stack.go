package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbudgets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3deployment"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/triggers"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// dbName is the PostgreSQL database the application uses.
const dbName = "prawn"

// dbMasterUser is the RDS master user whose generated password lives in Secrets Manager.
const dbMasterUser = "prawn"

// PrawnStackProps configures NewPrawnStack.
type PrawnStackProps struct {
	awscdk.StackProps
	Config *Config
	// Certificate is the us-east-1 certificate for Config.DomainName, nil without a custom domain.
	Certificate awscertificatemanager.ICertificate
}

// The synthetic view: an hourly event from inside AWS that the rollup checks for in the counts.
const (
	canaryPath = "/_prawn/canary"
	// canaryHost is the reserved host the canary is recorded under (the app's storage.CanaryHost):
	// reads of every host leave it out, so it never shows in a site's numbers.
	canaryHost       = "canary.prawn.invalid"
	canaryUserAgent  = "prawn-canary/1"
	canaryOKMessage  = "canary_ok"
	canaryMetricNS   = "prawn"
	canaryMetricName = "CanaryOk"
)

// prawnStack holds the constructs that the alarms, outputs and cdk-nag suppressions refer to.
type prawnStack struct {
	stack     awscdk.Stack
	cfg       *Config
	vpc       awsec2.Vpc
	db        awsrds.DatabaseInstance
	lambdaSG  awsec2.SecurityGroup
	logPolicy awscdk.RemovalPolicy
	// masterSecret holds the RDS master credentials, read only by migrate; appSecret those of the
	// least-privilege role of the other functions (nil with dbAuth=iam, which needs no password).
	masterSecret awsrds.DatabaseSecret
	appSecret    awsrds.DatabaseSecret
	// originSecret is the value CloudFront sends in X-Origin-Verify, generated at deploy.
	originSecret awssecretsmanager.Secret
	queue        *viewQueue // nil with ingest=direct
	code         awslambda.Code
	logs         map[string]awslogs.LogGroup // by handler
}

// NewPrawnStack defines the whole prawn deployment: network, database, functions, API, CDN,
// schedule, alarms and budget.
func NewPrawnStack(scope constructs.Construct, id string, props *PrawnStackProps) awscdk.Stack {
	cfg := props.Config
	s := &prawnStack{stack: awscdk.NewStack(scope, jsii.String(id), &props.StackProps), cfg: cfg, logs: map[string]awslogs.LogGroup{}}
	// Log groups and the secret cannot be snapshotted: they are kept unless the database is destroyed too.
	s.logPolicy = awscdk.RemovalPolicy_RETAIN
	if cfg.RemovalPolicy == "destroy" {
		s.logPolicy = awscdk.RemovalPolicy_DESTROY
	}

	s.vpc = awsec2.NewVpc(s.stack, jsii.String("Vpc"), &awsec2.VpcProps{
		IpAddresses:       awsec2.IpAddresses_Cidr(jsii.String("10.42.0.0/16")),
		AvailabilityZones: jsii.Strings(cfg.AvailabilityZones...),
		NatGateways:       jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			// Public subnets cost nothing; only the opt-in bastion uses them.
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24), MapPublicIpOnLaunch: jsii.Bool(true)},
			{Name: jsii.String("isolated"), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED, CidrMask: jsii.Number(24)},
		},
	})
	s.vpc.AddFlowLog(jsii.String("RejectedFlows"), &awsec2.FlowLogOptions{
		TrafficType: awsec2.FlowLogTrafficType_REJECT,
		Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(s.logGroup("FlowLogs"), nil),
	})
	isolated := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED}

	dbSG := awsec2.NewSecurityGroup(s.stack, jsii.String("DatabaseSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc: s.vpc, Description: jsii.String("prawn PostgreSQL: only the Lambdas (and the opt-in bastion) may connect"), AllowAllOutbound: jsii.Bool(false),
	})
	s.lambdaSG = awsec2.NewSecurityGroup(s.stack, jsii.String("LambdaSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc: s.vpc, Description: jsii.String("prawn Lambdas: out to PostgreSQL and the VPC endpoints only"), AllowAllOutbound: jsii.Bool(false),
	})

	// A restored snapshot keeps the master password, so the secret outlives the instance like the logs.
	s.masterSecret = awsrds.NewDatabaseSecret(s.stack, jsii.String("DatabaseSecret"), &awsrds.DatabaseSecretProps{Username: jsii.String(dbMasterUser)})
	s.masterSecret.ApplyRemovalPolicy(s.logPolicy)
	if cfg.DBAuth == DBAuthSecret {
		// migrate sets the app role's password from this secret on every run, so it may be replaced.
		s.appSecret = awsrds.NewDatabaseSecret(s.stack, jsii.String("DatabaseAppSecret"), &awsrds.DatabaseSecretProps{Username: jsii.String(cfg.DBAppUser)})
		s.appSecret.ApplyRemovalPolicy(s.logPolicy)
	}
	s.db = awsrds.NewDatabaseInstance(s.stack, jsii.String("Database"), &awsrds.DatabaseInstanceProps{
		Engine:                  awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{Version: postgresVersion(cfg.PostgresMajor)}),
		EngineLifecycleSupport:  awsrds.EngineLifecycleSupport_OPEN_SOURCE_RDS_EXTENDED_SUPPORT_DISABLED,
		InstanceType:            awsec2.NewInstanceType(jsii.String(cfg.DBInstanceClass)),
		Vpc:                     s.vpc,
		VpcSubnets:              isolated,
		SecurityGroups:          &[]awsec2.ISecurityGroup{dbSG},
		PubliclyAccessible:      jsii.Bool(false),
		MultiAz:                 jsii.Bool(false),
		AllocatedStorage:        jsii.Number(float64(cfg.DBStorageGB)),
		StorageType:             awsrds.StorageType_GP3,
		StorageEncrypted:        jsii.Bool(true),
		DatabaseName:            jsii.String(dbName),
		Credentials:             awsrds.Credentials_FromSecret(s.masterSecret, nil),
		IamAuthentication:       jsii.Bool(true),
		Parameters:              &map[string]*string{"rds.force_ssl": jsii.String("1")},
		BackupRetention:         awscdk.Duration_Days(jsii.Number(float64(cfg.BackupRetentionDays))),
		DeletionProtection:      jsii.Bool(cfg.DeletionProtection),
		RemovalPolicy:           removalPolicy(cfg.RemovalPolicy),
		AutoMinorVersionUpgrade: jsii.Bool(true),
	})

	// Secrets Manager is reached through one interface endpoint in the first AZ ($7.30/month
	// instead of $14.60 for two): the private DNS name resolves to it from both AZs.
	var secretsEndpoint awsec2.InterfaceVpcEndpoint
	if cfg.DBAuth == DBAuthSecret {
		secretsEndpoint = s.interfaceEndpoint("SecretsManager", awsec2.InterfaceVpcEndpointAwsService_SECRETS_MANAGER(), "prawn Lambdas fetch their database secret")
	}
	s.db.Connections().AllowDefaultPortFrom(s.lambdaSG, jsii.String("prawn Lambdas"))

	// The origin secret never reaches a function at run time: CloudFormation resolves it into the
	// CloudFront origin header, the api function's environment and the canary event at deploy.
	s.originSecret = awssecretsmanager.NewSecret(s.stack, jsii.String(cfg.originSecretID()), &awssecretsmanager.SecretProps{
		Description: jsii.String("prawn: value of the X-Origin-Verify header CloudFront adds to API requests"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(48),
			ExcludePunctuation: jsii.Bool(true),
			IncludeSpace:       jsii.Bool(false),
		},
	})

	if cfg.Ingest == IngestQueue {
		s.queue = s.newViewQueue()
	}

	// Every function runs the same artifact.
	s.code = awslambda.Code_FromAsset(jsii.String(cfg.LambdaAssetDir), nil)
	originSecret := s.originSecret.SecretValue().UnsafeUnwrap()
	apiEnv := map[string]*string{
		"PRAWN_ORIGIN_SECRET":  originSecret,
		"PRAWN_COUNTRY_HEADER": jsii.String(viewerCountryHeader),
	}
	if s.queue != nil {
		apiEnv["PRAWN_INGEST_MODE"] = jsii.String(string(IngestQueue))
		apiEnv["PRAWN_QUEUE_URL"] = s.queue.queue.QueueUrl()
	}
	apiFn := s.function(fnSpec{handler: "api", memoryMB: cfg.APIMemoryMB, timeoutSec: 10, concurrency: cfg.APIReservedConcurrency, poolSize: cfg.DBPoolSize, env: apiEnv})
	rollupFn := s.function(fnSpec{handler: "rollup", memoryMB: 256, timeoutSec: rollupTimeoutSec, concurrency: rollupConcurrency, poolSize: rollupPoolSize,
		env: map[string]*string{"PRAWN_CANARY_PATH": jsii.String(canaryPath), "PRAWN_ROLLUP_LINGER": jsii.String(rollupLinger(cfg.RollupRateMinutes))}})
	migrateFn := s.function(fnSpec{handler: "migrate", memoryMB: 256, timeoutSec: 300, concurrency: migrateConcurrency, poolSize: migratePoolSize, master: true})
	appFns := []constructs.Construct{apiFn, rollupFn}
	if s.queue != nil {
		s.queue.queue.GrantSendMessages(apiFn)
		appFns = append(appFns, s.consumer())
	}

	// migrate runs inside every deployment that changes the function (a new bootstrap carries new
	// migrations), after the database and its network paths exist and before the other functions
	// change, so that the role they log in as exists; a failure fails the deploy.
	after := []constructs.Construct{s.db, dbSG, s.lambdaSG}
	if secretsEndpoint != nil {
		after = append(after, secretsEndpoint)
	}
	triggers.NewTrigger(s.stack, jsii.String("MigrateOnDeploy"), &triggers.TriggerProps{
		Handler:                migrateFn,
		ExecuteAfter:           &after,
		ExecuteBefore:          &appFns,
		ExecuteOnHandlerChange: jsii.Bool(true),
		Timeout:                awscdk.Duration_Minutes(jsii.Number(5)),
	})

	awsevents.NewRule(s.stack, jsii.String("RollupSchedule"), &awsevents.RuleProps{
		Description: jsii.String(fmt.Sprintf("Runs the prawn rollup every %s", minutes(cfg.RollupRateMinutes))),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(float64(cfg.RollupRateMinutes)))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(rollupFn, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(1),
			MaxEventAge:   awscdk.Duration_Minutes(jsii.Number(float64(cfg.RollupRateMinutes))),
		})},
	})
	// The synthetic view takes the whole recording path inside AWS (the api handler with the
	// origin secret, in queue mode SQS and consume); CanaryMissing alarms when the rollup stops
	// finding it in the counts.
	awsevents.NewRule(s.stack, jsii.String("CanarySchedule"), &awsevents.RuleProps{
		Description: jsii.String("Records the synthetic view " + canaryPath + " every hour"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Hours(jsii.Number(1))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(apiFn, &awseventstargets.LambdaFunctionProps{
			Event:         awsevents.RuleTargetInput_FromObject(canaryEvent(originSecret)),
			RetryAttempts: jsii.Number(2),
			MaxEventAge:   awscdk.Duration_Hours(jsii.Number(1)),
		})},
	})

	httpAPI := s.httpAPI(apiFn)
	dist := s.cdn(httpAPI, props.Certificate)
	s.alarms(apiFn, rollupFn, httpAPI)
	s.budget()
	if cfg.Bastion {
		s.bastion()
	}

	s.output("SiteUrl", awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("https://"), dist.DistributionDomainName()}), "CloudFront URL of the site and API")
	s.output("DatabaseEndpoint", s.db.DbInstanceEndpointAddress(), "PostgreSQL host (private)")
	s.output("DatabaseInstanceId", s.db.InstanceIdentifier(), "RDS instance identifier (snapshots, restores)")
	s.output("DatabaseSecretArn", s.masterSecret.SecretArn(), "Secrets Manager secret with the master credentials (read only by migrate)")
	if s.appSecret != nil {
		s.output("DatabaseAppSecretArn", s.appSecret.SecretArn(), "Secrets Manager secret of "+cfg.DBAppUser+", the role of api, rollup and consume")
	}
	s.output("ApiFunctionName", apiFn.FunctionName(), "api Lambda")
	s.output("RollupFunctionName", rollupFn.FunctionName(), "rollup Lambda (invoke by hand to catch up)")
	addNagSuppressions(s.stack, cfg)
	return s.stack
}

// fnSpec describes one handler of the shared bootstrap binary.
type fnSpec struct {
	handler                                     string
	memoryMB, timeoutSec, concurrency, poolSize int
	// master logs in as the RDS master user and may provision the app role (migrate); every other
	// function logs in as the least-privilege role cfg.DBAppUser.
	master bool
	env    map[string]*string
}

// function defines one of the handlers of the shared bootstrap binary, with its database login.
func (s *prawnStack) function(spec fnSpec) awslambda.Function {
	cfg := s.cfg
	env := map[string]*string{
		"DB_HOST":            s.db.DbInstanceEndpointAddress(),
		"DB_PORT":            s.db.DbInstanceEndpointPort(),
		"DB_NAME":            jsii.String(dbName),
		"PRAWN_DB_MAX_CONNS": jsii.String(fmt.Sprint(spec.poolSize)),
	}
	for k, v := range spec.env {
		env[k] = v
	}
	if spec.master {
		env["DB_APP_USER"] = jsii.String(cfg.DBAppUser)
	}
	switch {
	case cfg.DBAuth == DBAuthIAM && spec.master:
		env["DB_IAM_USER"] = jsii.String(cfg.DBIAMUser)
	case cfg.DBAuth == DBAuthIAM:
		env["DB_IAM_USER"] = jsii.String(cfg.DBAppUser)
	case spec.master:
		env["DB_SECRET_ARN"] = s.masterSecret.SecretArn()
		env["DB_APP_SECRET_ARN"] = s.appSecret.SecretArn()
	default:
		env["DB_SECRET_ARN"] = s.appSecret.SecretArn()
	}
	id := titleCase(spec.handler)
	logs := s.logGroup(id + "Logs")
	s.logs[spec.handler] = logs
	s.output(id+"LogGroup", logs.LogGroupName(), spec.handler+" function logs")
	fn := awslambda.NewFunction(s.stack, jsii.String(id+"Function"), &awslambda.FunctionProps{
		Description:                  jsii.String("prawn " + spec.handler),
		Runtime:                      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:                 awslambda.Architecture_ARM_64(),
		Code:                         s.code,
		Handler:                      jsii.String(spec.handler),
		MemorySize:                   jsii.Number(float64(spec.memoryMB)),
		Timeout:                      awscdk.Duration_Seconds(jsii.Number(float64(spec.timeoutSec))),
		ReservedConcurrentExecutions: jsii.Number(float64(spec.concurrency)),
		Environment:                  &env,
		LogGroup:                     logs,
		Vpc:                          s.vpc,
		VpcSubnets:                   &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED},
		SecurityGroups:               &[]awsec2.ISecurityGroup{s.lambdaSG},
	})
	switch {
	case cfg.DBAuth == DBAuthIAM && spec.master:
		s.db.GrantConnect(fn, jsii.String(cfg.DBIAMUser))
	case cfg.DBAuth == DBAuthIAM:
		s.db.GrantConnect(fn, jsii.String(cfg.DBAppUser))
	case spec.master:
		s.masterSecret.GrantRead(fn, nil)
		s.appSecret.GrantRead(fn, nil)
	default:
		s.appSecret.GrantRead(fn, nil)
	}
	return fn
}

// interfaceEndpoint adds an interface endpoint in the first AZ only (one ENI, $7.30/month; its
// private DNS name resolves to it from both AZs) that the Lambdas may reach on HTTPS.
func (s *prawnStack) interfaceEndpoint(id string, service awsec2.IInterfaceVpcEndpointService, why string) awsec2.InterfaceVpcEndpoint {
	ep := s.vpc.AddInterfaceEndpoint(jsii.String(id), &awsec2.InterfaceVpcEndpointOptions{
		Service:           service,
		Subnets:           &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED, AvailabilityZones: jsii.Strings(s.cfg.AvailabilityZones[0])},
		PrivateDnsEnabled: jsii.Bool(true),
		Open:              jsii.Bool(false),
	})
	ep.Connections().AllowDefaultPortFrom(s.lambdaSG, jsii.String(why))
	return ep
}

// logGroup creates a log group with the configured retention.
func (s *prawnStack) logGroup(id string) awslogs.LogGroup {
	return awslogs.NewLogGroup(s.stack, jsii.String(id), &awslogs.LogGroupProps{
		Retention:     logRetentions[s.cfg.LogRetentionDays],
		RemovalPolicy: s.logPolicy,
	})
}

// httpAPI fronts the api function with a throttled HTTP API whose access log holds no client IPs.
func (s *prawnStack) httpAPI(apiFn awslambda.Function) awsapigatewayv2.HttpApi {
	api := awsapigatewayv2.NewHttpApi(s.stack, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		Description:        jsii.String("prawn API (reached through CloudFront under /api/*)"),
		DefaultIntegration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Api"), apiFn, nil),
		CreateDefaultStage: jsii.Bool(false),
	})
	stage := awsapigatewayv2.NewHttpStage(s.stack, jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    api,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(float64(s.cfg.APIThrottleRate)),
			BurstLimit: jsii.Number(float64(s.cfg.APIThrottleBurst)),
		},
	})
	accessLogs := s.logGroup("ApiAccessLogs")
	s.output("ApiAccessLogGroup", accessLogs.LogGroupName(), "HTTP API access log (no client IPs)")
	stage.Node().DefaultChild().(awsapigatewayv2.CfnStage).SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format: jsii.String(`{"requestId":"$context.requestId","time":"$context.requestTime","method":"$context.httpMethod",` +
			`"path":"$context.path","status":"$context.status","latencyMs":"$context.responseLatency",` +
			`"integrationError":"$context.integrationErrorMessage"}`),
	})
	return api
}

// cdn serves the frontend from a private bucket and routes /api/* to the HTTP API, HTTPS only.
// Requests to the API carry the viewer's address and country and the secret X-Origin-Verify
// header; answers carry the same security headers as prawn sends locally.
func (s *prawnStack) cdn(api awsapigatewayv2.HttpApi, cert awscertificatemanager.ICertificate) awscloudfront.Distribution {
	bucket := awss3.NewBucket(s.stack, jsii.String("FrontendBucket"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		// The content is rebuilt by every deploy, so the bucket goes with the stack.
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
		AutoDeleteObjects: jsii.Bool(true),
	})
	pageHeaders, apiHeaders, trackerHeaders := s.responseHeadersPolicies()
	frontend := awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(bucket, nil)
	apiDomain := awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), api.ApiEndpoint(), nil))
	apiOrigin := awscloudfrontorigins.NewHttpOrigin(apiDomain, &awscloudfrontorigins.HttpOriginProps{
		ProtocolPolicy:     awscloudfront.OriginProtocolPolicy_HTTPS_ONLY,
		OriginSslProtocols: &[]awscloudfront.OriginSslPolicy{awscloudfront.OriginSslPolicy_TLS_V1_2},
		// A dynamic reference, resolved by CloudFormation at deploy: the template holds no secret.
		CustomHeaders: &map[string]*string{originVerifyHeader: s.originSecret.SecretValue().UnsafeUnwrap()},
	})
	apiRequests := awscloudfront.NewOriginRequestPolicy(s.stack, jsii.String("ApiOriginRequest"), &awscloudfront.OriginRequestPolicyProps{
		Comment:             jsii.String("prawn API: the viewer's address and country, and the headers the API reads; never Host"),
		HeaderBehavior:      awscloudfront.OriginRequestHeaderBehavior_AllowList(*jsii.Strings(apiForwardedHeaders...)...),
		QueryStringBehavior: awscloudfront.OriginRequestQueryStringBehavior_All(),
		CookieBehavior:      awscloudfront.OriginRequestCookieBehavior_None(),
	})
	props := &awscloudfront.DistributionProps{
		Comment:           jsii.String("prawn"),
		DefaultRootObject: jsii.String("index.html"),
		HttpVersion:       awscloudfront.HttpVersion_HTTP2_AND_3,
		PriceClass:        awscloudfront.PriceClass_PRICE_CLASS_100,
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:                frontend,
			ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			CachePolicy:           awscloudfront.CachePolicy_CACHING_OPTIMIZED(),
			ResponseHeadersPolicy: pageHeaders,
			Compress:              jsii.Bool(true),
		},
	}
	if cert == nil && s.cfg.CertificateARN != "" {
		cert = awscertificatemanager.Certificate_FromCertificateArn(s.stack, jsii.String("Certificate"), jsii.String(s.cfg.CertificateARN))
	}
	if cert != nil {
		props.DomainNames = jsii.Strings(s.cfg.DomainName)
		props.Certificate = cert
		props.MinimumProtocolVersion = awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2021
	}
	dist := awscloudfront.NewDistribution(s.stack, jsii.String("Distribution"), props)
	// CloudFront tries behaviours in the order added: the badge before the rest of /api/*.
	// The badge is not cached by CloudFront; the Cache-Control the API sends reaches the viewer.
	dist.AddBehavior(jsii.String(badgePath), apiOrigin, &awscloudfront.AddBehaviorOptions{
		ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
		AllowedMethods:        awscloudfront.AllowedMethods_ALLOW_GET_HEAD(),
		CachePolicy:           awscloudfront.CachePolicy_CACHING_DISABLED(),
		OriginRequestPolicy:   apiRequests,
		ResponseHeadersPolicy: apiHeaders,
	})
	dist.AddBehavior(jsii.String(apiPathPattern), apiOrigin, &awscloudfront.AddBehaviorOptions{
		ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_HTTPS_ONLY,
		AllowedMethods:        awscloudfront.AllowedMethods_ALLOW_ALL(),
		CachePolicy:           awscloudfront.CachePolicy_CACHING_DISABLED(),
		OriginRequestPolicy:   apiRequests,
		ResponseHeadersPolicy: apiHeaders,
	})
	// The tracker script that other sites embed: cached at the edge until the next deploy
	// invalidates it, a day in browsers, compressed.
	dist.AddBehavior(jsii.String(trackerScriptPath), frontend, &awscloudfront.AddBehaviorOptions{
		ViewerProtocolPolicy: awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
		AllowedMethods:       awscloudfront.AllowedMethods_ALLOW_GET_HEAD(),
		CachePolicy: awscloudfront.NewCachePolicy(s.stack, jsii.String("TrackerScriptCache"), &awscloudfront.CachePolicyProps{
			Comment:                    jsii.String("prawn tracker script: a year at the edge (deploys invalidate it), gzip and brotli"),
			DefaultTtl:                 awscdk.Duration_Days(jsii.Number(365)),
			MaxTtl:                     awscdk.Duration_Days(jsii.Number(365)),
			MinTtl:                     awscdk.Duration_Seconds(jsii.Number(0)),
			HeaderBehavior:             awscloudfront.CacheHeaderBehavior_None(),
			QueryStringBehavior:        awscloudfront.CacheQueryStringBehavior_None(),
			CookieBehavior:             awscloudfront.CacheCookieBehavior_None(),
			EnableAcceptEncodingGzip:   jsii.Bool(true),
			EnableAcceptEncodingBrotli: jsii.Bool(true),
		}),
		ResponseHeadersPolicy: trackerHeaders,
		Compress:              jsii.Bool(true),
	})
	awss3deployment.NewBucketDeployment(s.stack, jsii.String("FrontendDeployment"), &awss3deployment.BucketDeploymentProps{
		Sources:           &[]awss3deployment.ISource{awss3deployment.Source_Asset(jsii.String(s.cfg.FrontendDir), nil)},
		DestinationBucket: bucket,
		Distribution:      dist,
		DistributionPaths: jsii.Strings("/*"),
		MemoryLimit:       jsii.Number(256),
		LogGroup:          s.logGroup("FrontendDeploymentLogs"),
	})
	return dist
}

// alarms mails the operator when the rollup fails or stops running, the API fails or throttles,
// the hourly synthetic view stops arriving in the counts, or (ingest=queue) views pile up or die.
func (s *prawnStack) alarms(apiFn, rollupFn awslambda.Function, api awsapigatewayv2.HttpApi) {
	topic := awssns.NewTopic(s.stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("prawn alarms"),
		EnforceSSL:  jsii.Bool(true),
	})
	topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(s.cfg.AlertEmail), nil))
	action := awscloudwatchactions.NewSnsAction(topic)
	five := awscdk.Duration_Minutes(jsii.Number(5))
	add := func(id, description string, metric awscloudwatch.IMetric, op awscloudwatch.ComparisonOperator, threshold, periods float64, missing awscloudwatch.TreatMissingData) {
		alarm := awscloudwatch.NewAlarm(s.stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			ComparisonOperator: op,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(periods),
			TreatMissingData:   missing,
		})
		alarm.AddAlarmAction(action)
		alarm.AddOkAction(action)
	}
	add("RollupErrors", "The prawn rollup failed (see its log group).",
		rollupFn.MetricErrors(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}),
		awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	add("RollupMissedRuns", fmt.Sprintf("The prawn rollup was not invoked for %s (schedule disabled or broken).", minutes(3*s.cfg.RollupRateMinutes)),
		rollupFn.MetricInvocations(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(float64(s.cfg.RollupRateMinutes))), Statistic: jsii.String("Sum")}),
		awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, 1, 3, awscloudwatch.TreatMissingData_BREACHING)
	add("Api5xx", "The prawn API answered 5 or more 5xx responses in 5 minutes.",
		api.MetricServerError(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}),
		awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 5, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	add("ApiThrottles", "The api function hit its reserved concurrency (raise apiReservedConcurrency if the database allows).",
		apiFn.MetricThrottles(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}),
		awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)

	// The rollup logs msg=canary_ok on each run that finds the synthetic view of the current or
	// the previous hour in the counts; two hours without that line (or without any log) alarm.
	canary := awslogs.NewMetricFilter(s.stack, jsii.String("CanaryOkFilter"), &awslogs.MetricFilterProps{
		LogGroup:        s.logs["rollup"],
		FilterPattern:   awslogs.FilterPattern_StringValue(jsii.String("$.msg"), jsii.String("="), jsii.String(canaryOKMessage)),
		MetricNamespace: jsii.String(canaryMetricNS),
		MetricName:      jsii.String(canaryMetricName),
		MetricValue:     jsii.String("1"),
	})
	add("CanaryMissing", "The hourly synthetic view ("+canaryPath+") has not been found in the counts for 2 hours: recording, ingest or the rollup is broken.",
		canary.Metric(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Hours(jsii.Number(1)), Statistic: jsii.String("Sum")}),
		awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, 1, 2, awscloudwatch.TreatMissingData_BREACHING)

	if q := s.queue; q != nil {
		add("ViewDeadLetters", "Views reached the dead-letter queue: the consume function refused them 10 times (see its log group; redrive after the fix).",
			q.deadLetters.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")}),
			awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
		add("ViewQueueAge", "Accepted views have waited 15 minutes or more in the queue: consume is failing, throttled or the database is away.",
			q.queue.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")}),
			awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 900, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	}
}

// budget mails the operator when the month's actual or forecast cost passes the budget.
func (s *prawnStack) budget() {
	notification := func(kind string) *awsbudgets.CfnBudget_NotificationWithSubscribersProperty {
		return &awsbudgets.CfnBudget_NotificationWithSubscribersProperty{
			Notification: &awsbudgets.CfnBudget_NotificationProperty{
				NotificationType:   jsii.String(kind),
				ComparisonOperator: jsii.String("GREATER_THAN"),
				Threshold:          jsii.Number(100),
				ThresholdType:      jsii.String("PERCENTAGE"),
			},
			Subscribers: &[]any{&awsbudgets.CfnBudget_SubscriberProperty{
				SubscriptionType: jsii.String("EMAIL"),
				Address:          jsii.String(s.cfg.AlertEmail),
			}},
		}
	}
	awsbudgets.NewCfnBudget(s.stack, jsii.String("MonthlyBudget"), &awsbudgets.CfnBudgetProps{
		Budget: &awsbudgets.CfnBudget_BudgetDataProperty{
			BudgetType:  jsii.String("COST"),
			TimeUnit:    jsii.String("MONTHLY"),
			BudgetLimit: &awsbudgets.CfnBudget_SpendProperty{Amount: jsii.Number(s.cfg.BudgetUSD), Unit: jsii.String("USD")},
		},
		NotificationsWithSubscribers: &[]any{notification("ACTUAL"), notification("FORECASTED")},
	})
}

// bastion adds an SSM-managed t4g.nano without inbound rules for port forwarding to the database.
func (s *prawnStack) bastion() {
	host := awsec2.NewBastionHostLinux(s.stack, jsii.String("Bastion"), &awsec2.BastionHostLinuxProps{
		Vpc:             s.vpc,
		InstanceType:    awsec2.NewInstanceType(jsii.String("t4g.nano")),
		MachineImage:    awsec2.MachineImage_LatestAmazonLinux2023(&awsec2.AmazonLinux2023ImageSsmParameterProps{CpuType: awsec2.AmazonLinuxCpuType_ARM_64}),
		SubnetSelection: &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		RequireImdsv2:   jsii.Bool(true),
		BlockDevices: &[]*awsec2.BlockDevice{{
			DeviceName: jsii.String("/dev/xvda"),
			Volume:     awsec2.BlockDeviceVolume_Ebs(jsii.Number(8), &awsec2.EbsDeviceOptions{Encrypted: jsii.Bool(true), VolumeType: awsec2.EbsDeviceVolumeType_GP3}),
		}},
	})
	s.db.Connections().AllowDefaultPortFrom(host, jsii.String("operator port forwarding through the SSM bastion"))
	s.output("BastionInstanceId", host.InstanceId(), "target of aws ssm start-session port forwarding")
}

func (s *prawnStack) output(id string, value *string, description string) {
	awscdk.NewCfnOutput(s.stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
}

func removalPolicy(name string) awscdk.RemovalPolicy {
	switch name {
	case "retain":
		return awscdk.RemovalPolicy_RETAIN
	case "destroy":
		return awscdk.RemovalPolicy_DESTROY
	default:
		return awscdk.RemovalPolicy_SNAPSHOT
	}
}

func postgresVersion(major int) awsrds.PostgresEngineVersion {
	if major == 16 {
		return awsrds.PostgresEngineVersion_VER_16()
	}
	return awsrds.PostgresEngineVersion_VER_17()
}

// originSecretID is the construct id of the origin secret's generation: a new generation is a new
// secret (a new ARN), so the origin header, the api's environment and the canary event all change
// in the same deploy.
func (c *Config) originSecretID() string {
	if c.OriginSecretGeneration > 1 {
		return fmt.Sprint("OriginVerifySecret", c.OriginSecretGeneration)
	}
	return "OriginVerifySecret"
}

func titleCase(s string) string {
	return string(s[0]-'a'+'A') + s[1:]
}

// minutes spells a number of minutes for descriptions: "1 minute", "5 minutes".
func minutes(n int) string {
	if n == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", n)
}

// rollupTimeoutSec is the rollup function's timeout.
const rollupTimeoutSec = 120

// rollupLinger is the rollup function's PRAWN_ROLLUP_LINGER: it keeps folding a busy site's views
// until 10 s before the schedule's next run, and for at most half its timeout, so that the last
// fold has time to finish.
func rollupLinger(rateMinutes int) string {
	return fmt.Sprintf("%ds", min(rateMinutes*60-10, rollupTimeoutSec/2))
}
