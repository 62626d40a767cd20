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

// prawnStack holds the constructs that the alarms, outputs and cdk-nag suppressions refer to.
type prawnStack struct {
	stack     awscdk.Stack
	cfg       *Config
	vpc       awsec2.Vpc
	db        awsrds.DatabaseInstance
	lambdaSG  awsec2.SecurityGroup
	logPolicy awscdk.RemovalPolicy
}

// NewPrawnStack defines the whole prawn deployment: network, database, functions, API, CDN,
// schedule, alarms and budget.
func NewPrawnStack(scope constructs.Construct, id string, props *PrawnStackProps) awscdk.Stack {
	cfg := props.Config
	s := &prawnStack{stack: awscdk.NewStack(scope, jsii.String(id), &props.StackProps), cfg: cfg}
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
		Vpc: s.vpc, Description: jsii.String("prawn Lambdas: out to PostgreSQL (and the Secrets Manager endpoint) only"), AllowAllOutbound: jsii.Bool(false),
	})

	// A restored snapshot keeps the master password, so the secret outlives the instance like the logs.
	secret := awsrds.NewDatabaseSecret(s.stack, jsii.String("DatabaseSecret"), &awsrds.DatabaseSecretProps{Username: jsii.String(dbMasterUser)})
	secret.ApplyRemovalPolicy(s.logPolicy)
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
		Credentials:             awsrds.Credentials_FromSecret(secret, nil),
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
		secretsEndpoint = s.vpc.AddInterfaceEndpoint(jsii.String("SecretsManager"), &awsec2.InterfaceVpcEndpointOptions{
			Service:           awsec2.InterfaceVpcEndpointAwsService_SECRETS_MANAGER(),
			Subnets:           &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED, AvailabilityZones: jsii.Strings(cfg.AvailabilityZones[0])},
			PrivateDnsEnabled: jsii.Bool(true),
			Open:              jsii.Bool(false),
		})
		secretsEndpoint.Connections().AllowDefaultPortFrom(s.lambdaSG, jsii.String("prawn Lambdas fetch the database secret"))
	}
	s.db.Connections().AllowDefaultPortFrom(s.lambdaSG, jsii.String("prawn Lambdas"))

	code := awslambda.Code_FromAsset(jsii.String(cfg.LambdaAssetDir), nil)
	apiFn := s.function("api", code, cfg.APIMemoryMB, 10, cfg.APIReservedConcurrency, cfg.DBPoolSize)
	rollupFn := s.function("rollup", code, 256, 120, rollupConcurrency, rollupPoolSize)
	migrateFn := s.function("migrate", code, 256, 300, migrateConcurrency, migratePoolSize)

	// migrate runs inside every deployment that changes the function (a new bootstrap carries new
	// migrations), after the database and its network paths exist; a failure fails the deploy.
	after := []constructs.Construct{s.db, dbSG, s.lambdaSG}
	if secretsEndpoint != nil {
		after = append(after, secretsEndpoint)
	}
	triggers.NewTrigger(s.stack, jsii.String("MigrateOnDeploy"), &triggers.TriggerProps{
		Handler:                migrateFn,
		ExecuteAfter:           &after,
		ExecuteOnHandlerChange: jsii.Bool(true),
		Timeout:                awscdk.Duration_Minutes(jsii.Number(5)),
	})

	awsevents.NewRule(s.stack, jsii.String("RollupSchedule"), &awsevents.RuleProps{
		Description: jsii.String(fmt.Sprintf("Runs the prawn rollup every %d minutes", cfg.RollupRateMinutes)),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(float64(cfg.RollupRateMinutes)))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(rollupFn, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(1),
			MaxEventAge:   awscdk.Duration_Minutes(jsii.Number(float64(cfg.RollupRateMinutes))),
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
	s.output("DatabaseSecretArn", s.db.Secret().SecretArn(), "Secrets Manager secret with the master credentials")
	s.output("RollupFunctionName", rollupFn.FunctionName(), "rollup Lambda (invoke by hand to catch up)")
	addNagSuppressions(s.stack, cfg)
	return s.stack
}

// function defines one of the three handlers of the shared bootstrap binary.
func (s *prawnStack) function(handler string, code awslambda.Code, memoryMB, timeoutSec, concurrency, poolSize int) awslambda.Function {
	cfg := s.cfg
	env := map[string]*string{
		"DB_HOST":            s.db.DbInstanceEndpointAddress(),
		"DB_PORT":            s.db.DbInstanceEndpointPort(),
		"DB_NAME":            jsii.String(dbName),
		"PRAWN_DB_MAX_CONNS": jsii.String(fmt.Sprint(poolSize)),
	}
	if cfg.DBAuth == DBAuthIAM {
		env["DB_IAM_USER"] = jsii.String(cfg.DBIAMUser)
	} else {
		env["DB_SECRET_ARN"] = s.db.Secret().SecretArn()
	}
	id := titleCase(handler)
	logs := s.logGroup(id + "Logs")
	s.output(id+"LogGroup", logs.LogGroupName(), handler+" function logs")
	fn := awslambda.NewFunction(s.stack, jsii.String(id+"Function"), &awslambda.FunctionProps{
		Description:                  jsii.String("prawn " + handler),
		Runtime:                      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:                 awslambda.Architecture_ARM_64(),
		Code:                         code,
		Handler:                      jsii.String(handler),
		MemorySize:                   jsii.Number(float64(memoryMB)),
		Timeout:                      awscdk.Duration_Seconds(jsii.Number(float64(timeoutSec))),
		ReservedConcurrentExecutions: jsii.Number(float64(concurrency)),
		Environment:                  &env,
		LogGroup:                     logs,
		Vpc:                          s.vpc,
		VpcSubnets:                   &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED},
		SecurityGroups:               &[]awsec2.ISecurityGroup{s.lambdaSG},
	})
	if cfg.DBAuth == DBAuthIAM {
		s.db.GrantConnect(fn, jsii.String(cfg.DBIAMUser))
	} else {
		s.db.Secret().GrantRead(fn, nil)
	}
	return fn
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
func (s *prawnStack) cdn(api awsapigatewayv2.HttpApi, cert awscertificatemanager.ICertificate) awscloudfront.Distribution {
	bucket := awss3.NewBucket(s.stack, jsii.String("FrontendBucket"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		// The content is rebuilt by every deploy, so the bucket goes with the stack.
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
		AutoDeleteObjects: jsii.Bool(true),
	})
	apiDomain := awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), api.ApiEndpoint(), nil))
	props := &awscloudfront.DistributionProps{
		Comment:           jsii.String("prawn"),
		DefaultRootObject: jsii.String("index.html"),
		HttpVersion:       awscloudfront.HttpVersion_HTTP2_AND_3,
		PriceClass:        awscloudfront.PriceClass_PRICE_CLASS_100,
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:                awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(bucket, nil),
			ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			CachePolicy:           awscloudfront.CachePolicy_CACHING_OPTIMIZED(),
			ResponseHeadersPolicy: awscloudfront.ResponseHeadersPolicy_SECURITY_HEADERS(),
			Compress:              jsii.Bool(true),
		},
		AdditionalBehaviors: &map[string]*awscloudfront.BehaviorOptions{
			"/api/*": {
				Origin: awscloudfrontorigins.NewHttpOrigin(apiDomain, &awscloudfrontorigins.HttpOriginProps{
					ProtocolPolicy:     awscloudfront.OriginProtocolPolicy_HTTPS_ONLY,
					OriginSslProtocols: &[]awscloudfront.OriginSslPolicy{awscloudfront.OriginSslPolicy_TLS_V1_2},
				}),
				ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_HTTPS_ONLY,
				AllowedMethods:        awscloudfront.AllowedMethods_ALLOW_ALL(),
				CachePolicy:           awscloudfront.CachePolicy_CACHING_DISABLED(),
				OriginRequestPolicy:   awscloudfront.OriginRequestPolicy_ALL_VIEWER_EXCEPT_HOST_HEADER(),
				ResponseHeadersPolicy: awscloudfront.ResponseHeadersPolicy_SECURITY_HEADERS(),
			},
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

// alarms mails the operator when the rollup fails or stops running, or the API fails or throttles.
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
	add("RollupMissedRuns", fmt.Sprintf("The prawn rollup was not invoked for %d minutes (schedule disabled or broken).", 3*s.cfg.RollupRateMinutes),
		rollupFn.MetricInvocations(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(float64(s.cfg.RollupRateMinutes))), Statistic: jsii.String("Sum")}),
		awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, 1, 3, awscloudwatch.TreatMissingData_BREACHING)
	add("Api5xx", "The prawn API answered 5 or more 5xx responses in 5 minutes.",
		api.MetricServerError(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}),
		awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 5, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	add("ApiThrottles", "The api function hit its reserved concurrency (raise apiReservedConcurrency if the database allows).",
		apiFn.MetricThrottles(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}),
		awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
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

func titleCase(s string) string {
	return string(s[0]-'a'+'A') + s[1:]
}
