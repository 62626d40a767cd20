package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Stack ids; they are also the CloudFormation stack names.
const (
	prawnStackID       = "PrawnStack"
	certificateStackID = "CertificateStack"
)

// Stacks are the stacks of the prawn app; Certificate is nil without a custom domain that needs one.
type Stacks struct {
	Prawn       awscdk.Stack
	Certificate awscdk.Stack
}

// NewPrawnApp adds prawn's stacks to app and applies the cdk-nag AwsSolutions checks to them.
func NewPrawnApp(app awscdk.App, cfg *Config) Stacks {
	var account *string
	if cfg.Account != "" {
		account = jsii.String(cfg.Account)
	}
	var stacks Stacks
	var cert awscertificatemanager.ICertificate
	if cfg.DomainName != "" && cfg.CertificateARN == "" {
		c := NewCertificateStack(app, certificateStackID, &awscdk.StackProps{
			Env:                   &awscdk.Environment{Account: account, Region: jsii.String("us-east-1")},
			CrossRegionReferences: jsii.Bool(true),
			Description:           jsii.String("prawn: ACM certificate for " + cfg.DomainName + " (CloudFront needs us-east-1)"),
		}, cfg.DomainName)
		stacks.Certificate = c.Stack()
		cert = c
	}
	props := &PrawnStackProps{
		StackProps: awscdk.StackProps{
			Env:                   &awscdk.Environment{Account: account, Region: jsii.String(cfg.Region)},
			CrossRegionReferences: jsii.Bool(stacks.Certificate != nil),
			Description:           jsii.String("prawn page view counter: VPC, RDS PostgreSQL, Lambdas, HTTP API, CloudFront, alarms, budget"),
		},
		Config:      cfg,
		Certificate: cert,
	}
	stacks.Prawn = NewPrawnStack(app, prawnStackID, props)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return stacks
}
