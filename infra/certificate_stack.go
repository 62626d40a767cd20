package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// NewCertificateStack creates the DNS-validated ACM certificate for the custom domain in
// us-east-1, the only region whose certificates CloudFront accepts.
func NewCertificateStack(scope constructs.Construct, id string, props *awscdk.StackProps, domain string) awscertificatemanager.Certificate {
	stack := awscdk.NewStack(scope, jsii.String(id), props)
	cert := awscertificatemanager.NewCertificate(stack, jsii.String("Certificate"), &awscertificatemanager.CertificateProps{
		DomainName: jsii.String(domain),
		// Without a hosted zone CloudFormation waits until the CNAME shown in the ACM console exists.
		Validation: awscertificatemanager.CertificateValidation_FromDns(nil),
	})
	awscdk.NewCfnOutput(stack, jsii.String("CertificateArn"), &awscdk.CfnOutputProps{Value: cert.CertificateArn()})
	return cert
}
