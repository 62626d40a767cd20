// Command infra synthesizes prawn's AWS CloudFormation templates (PrawnStack and, with a custom
// domain, CertificateStack) into cdk.out; see docs/aws.md.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	_ "github.com/prawnhq/prawn/infra/internal/jsiienv" // before any jsii package starts its kernel
)

func main() {
	defer jsii.Close()
	// The CDK CLI passes its output directory in CDK_OUTDIR; `go run .` alone writes to cdk.out.
	outdir := os.Getenv("CDK_OUTDIR")
	if outdir == "" {
		outdir = "cdk.out"
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	cfg, err := LoadConfig(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		jsii.Close()
		os.Exit(1)
	}
	NewPrawnApp(app, cfg)
	app.Synth(nil)
}
