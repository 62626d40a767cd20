package main

import (
	"fmt"
	"os"

	"github.com/prawnhq/prawn/internal/lambda"
)

// runLambda serves Lambda invocations (the runtime API is in AWS_LAMBDA_RUNTIME_API) with the
// handler that _HANDLER names; it returns the exit code of a failed init.
func runLambda() int {
	if err := lambda.Main(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "prawn lambda init:", err)
		return 1
	}
	return 0
}
