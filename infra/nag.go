package main

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppression is one accepted cdk-nag finding; appliesTo narrows it to named policies or actions.
type suppression struct {
	id, reason string
	appliesTo  []string
}

// Managed policies CDK attaches to every Lambda role in a VPC.
var lambdaManagedPolicies = []string{
	"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
	"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
}

// addNagSuppressions records, with a reason each, the AwsSolutions findings prawn accepts.
func addNagSuppressions(stack awscdk.Stack, cfg *Config) {
	suppress(stack, "HttpApi/DefaultRoute", suppression{id: "AwsSolutions-APIG4",
		reason: "The API is public by design: page-view beacons and public stats are anonymous; the application authenticates its admin endpoints itself."})
	suppress(stack, "Distribution",
		suppression{id: "AwsSolutions-CFR1", reason: "A public page view counter serves visitors from every country."},
		suppression{id: "AwsSolutions-CFR2", reason: "A WAF web ACL costs at least $5/month plus $1 per rule, over the whole stack's budget; HTTP API stage throttling and the api reserved concurrency cap abuse instead."},
		suppression{id: "AwsSolutions-CFR3", reason: "Privacy: prawn does not store visitor IP addresses, and CloudFront access logs would record every one; request metrics stay in CloudWatch."})
	if cfg.DomainName == "" {
		suppress(stack, "Distribution", suppression{id: "AwsSolutions-CFR4",
			reason: "Without a custom domain CloudFront serves its default *.cloudfront.net certificate, whose security policy cannot be raised; with domainName set, TLSv1.2_2021 is enforced and this suppression is not added."})
	}
	suppress(stack, "Database",
		suppression{id: "AwsSolutions-RDS3", reason: "Multi-AZ doubles the instance cost ($11.68 to $23.36/month); a page view counter tolerates a restore from the automated backups."},
		suppression{id: "AwsSolutions-RDS11", reason: "The database lives in isolated subnets and admits only two security groups; a non-default port adds no protection."})
	suppress(stack, "DatabaseSecret", suppression{id: "AwsSolutions-SMG4", reason: "Rotating the master password would invalidate the credentials warm Lambdas hold and needs a rotation Lambda with its own network path; the secret never leaves AWS, and dbAuth=iam removes the password from the functions entirely."})
	if cfg.DBAuth == DBAuthSecret {
		suppress(stack, "DatabaseAppSecret", suppression{id: "AwsSolutions-SMG4", reason: "The app role's password is set by migrate from this secret on every deploy; scheduled rotation would need a rotation Lambda with its own network path and would invalidate the credentials warm Lambdas hold. dbAuth=iam needs no password at all."})
	}
	suppress(stack, cfg.originSecretID(), suppression{id: "AwsSolutions-SMG4", reason: "CloudFormation resolves the origin secret into the CloudFront origin header, the api function and the canary event at deploy only, so a scheduled rotation would make the api refuse CloudFront until the next deploy; it is replaced in one deploy by raising originSecretGeneration (docs/aws.md)."})
	if !cfg.DeletionProtection {
		suppress(stack, "Database", suppression{id: "AwsSolutions-RDS10",
			reason: "The operator turned deletion protection off on purpose (deletionProtection=false), e.g. for a test stack."})
	}
	suppress(stack, "FrontendBucket", suppression{id: "AwsSolutions-S1",
		reason: "The bucket is private, read only by CloudFront through origin access control and written only by deployments; server access logs would need a second bucket and would record visitor IPs."})
	fns := []string{"ApiFunction", "RollupFunction", "MigrateFunction"}
	if cfg.Ingest == IngestQueue {
		fns = append(fns, "ConsumeFunction")
	}
	for _, fn := range fns {
		suppress(stack, fn, suppression{id: "AwsSolutions-IAM4", appliesTo: lambdaManagedPolicies,
			reason: "AWS-managed minimal policies for writing the function's logs and attaching it to the VPC."})
	}
	for _, child := range *stack.Node().Children() {
		// CDK's singleton Lambda behind s3-deployment's BucketDeployment; its id ends in a hash.
		if strings.HasPrefix(*child.Node().Id(), "Custom::CDKBucketDeployment") {
			cdknag.NagSuppressions_AddResourceSuppressions(child, nagSuppressions(
				suppression{id: "AwsSolutions-IAM4", appliesTo: lambdaManagedPolicies[:1], reason: "CDK's BucketDeployment provider only writes its own logs with this AWS-managed policy."},
				suppression{id: "AwsSolutions-IAM5", reason: "CDK's BucketDeployment provider copies the asset and replaces all objects of the frontend bucket, which needs object wildcards on those two buckets only."},
				suppression{id: "AwsSolutions-L1", reason: "CDK's BucketDeployment provider pins its own Python runtime, updated with aws-cdk-lib."},
			), jsii.Bool(true))
		}
	}
	if cfg.Bastion {
		suppress(stack, "Bastion",
			suppression{id: "AwsSolutions-IAM4", appliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore"},
				reason: "The AWS-managed policy Session Manager needs; the bastion has no other permission and no inbound rule."},
			suppression{id: "AwsSolutions-IAM5", appliesTo: []string{"Action::ssmmessages:*", "Action::ec2messages:*", "Resource::*"},
				reason: "The Session Manager channel actions CDK grants every bastion; these APIs have no resource-level permissions."},
			suppression{id: "AwsSolutions-EC28", reason: "Detailed monitoring costs more than the opt-in, disposable t4g.nano bastion itself."},
			suppression{id: "AwsSolutions-EC29", reason: "The bastion holds no state and is meant to be removed (bastion=false) when not in use."})
	}
}

// suppress attaches suppressions to the construct at path (relative to stack) and its children.
func suppress(stack awscdk.Stack, path string, s ...suppression) {
	cdknag.NagSuppressions_AddResourceSuppressionsByPath(stack, jsii.String("/"+*stack.Node().Path()+"/"+path), nagSuppressions(s...), jsii.Bool(true))
}

func nagSuppressions(list ...suppression) *[]*cdknag.NagPackSuppression {
	out := make([]*cdknag.NagPackSuppression, 0, len(list))
	for _, s := range list {
		n := &cdknag.NagPackSuppression{Id: jsii.String(s.id), Reason: jsii.String(s.reason)}
		if len(s.appliesTo) > 0 {
			applies := make([]any, len(s.appliesTo))
			for i, a := range s.appliesTo {
				applies[i] = a
			}
			n.AppliesTo = &applies
		}
		out = append(out, n)
	}
	return &out
}
