package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/jsii-runtime-go"
)

// The security headers prawn sends locally, copied from the application because infra/ is its own
// module: pageCSP from internal/web (contentSecurityPolicy), apiCSP, hstsValue and the rest from
// internal/httpapi (secheaders.go). TestSecurityHeadersMatchTheApplication reads both Go files and
// fails when these copies drift from them.
const (
	pageCSP            = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
	apiCSP             = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
	hstsValue          = "max-age=31536000; includeSubDomains"
	hstsMaxAgeSeconds  = 31536000
	contentTypeOptions = "nosniff"
	referrerPolicy     = "no-referrer"
	frameOptions       = "DENY"
	permissionsPolicy  = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=(), browsing-topics=()"
	crossOriginOpener  = "same-origin"
)

// Paths and headers of the CloudFront behaviours.
const (
	apiPathPattern      = "/api/*"
	badgePath           = "/api/badge.svg"
	trackerScriptPath   = "/count.js"
	trackerCacheControl = "public, max-age=86400, stale-while-revalidate=604800"
	originVerifyHeader  = "X-Origin-Verify"
	viewerAddressHeader = "CloudFront-Viewer-Address"
	viewerCountryHeader = "CloudFront-Viewer-Country"
)

// apiForwardedHeaders are the request headers CloudFront passes to the API: the viewer's address and
// country (believed by the api only together with X-Origin-Verify), and the viewer headers the API
// reads (bot and prefetch detection, CORS). CloudFront's default quota is 10 headers per origin
// request policy; Host must not be forwarded (API Gateway routes by its own host name) and
// X-Origin-Verify must not be listed (CloudFront sets it, replacing any viewer value).
var apiForwardedHeaders = []string{
	viewerAddressHeader, viewerCountryHeader,
	"Content-Type", "User-Agent", "Origin", "Access-Control-Request-Method",
	"Sec-Purpose", "Purpose", "X-Purpose", "X-Moz",
}

// securityHeaders are the headers every prawn answer carries; override says whether CloudFront
// replaces the origin's value (S3 sends none, the API sends its own).
func securityHeaders(csp string, override bool) *awscloudfront.ResponseSecurityHeadersBehavior {
	return &awscloudfront.ResponseSecurityHeadersBehavior{
		ContentSecurityPolicy: &awscloudfront.ResponseHeadersContentSecurityPolicy{ContentSecurityPolicy: jsii.String(csp), Override: jsii.Bool(override)},
		ContentTypeOptions:    &awscloudfront.ResponseHeadersContentTypeOptions{Override: jsii.Bool(override)},
		FrameOptions:          &awscloudfront.ResponseHeadersFrameOptions{FrameOption: awscloudfront.HeadersFrameOption_DENY, Override: jsii.Bool(override)},
		ReferrerPolicy:        &awscloudfront.ResponseHeadersReferrerPolicy{ReferrerPolicy: awscloudfront.HeadersReferrerPolicy_NO_REFERRER, Override: jsii.Bool(override)},
		StrictTransportSecurity: &awscloudfront.ResponseHeadersStrictTransportSecurity{
			AccessControlMaxAge: awscdk.Duration_Seconds(jsii.Number(hstsMaxAgeSeconds)),
			IncludeSubdomains:   jsii.Bool(true),
			Override:            jsii.Bool(override),
		},
	}
}

// customHeaders are the security headers CloudFront has no dedicated setting for, plus extra.
func customHeaders(override bool, extra ...*awscloudfront.ResponseCustomHeader) *awscloudfront.ResponseCustomHeadersBehavior {
	list := []*awscloudfront.ResponseCustomHeader{
		{Header: jsii.String("Permissions-Policy"), Value: jsii.String(permissionsPolicy), Override: jsii.Bool(override)},
		{Header: jsii.String("Cross-Origin-Opener-Policy"), Value: jsii.String(crossOriginOpener), Override: jsii.Bool(override)},
	}
	list = append(list, extra...)
	return &awscloudfront.ResponseCustomHeadersBehavior{CustomHeaders: &list}
}

// responseHeadersPolicies returns the policies of the page (the headers internal/web sends
// locally), of the API (the API's own headers, added only where the answer lacks them, such as API
// Gateway's own 429 and 5xx answers) and of the tracker script (long browser cache, CORS for
// subresource integrity).
func (s *prawnStack) responseHeadersPolicies() (page, api, tracker awscloudfront.ResponseHeadersPolicy) {
	page = awscloudfront.NewResponseHeadersPolicy(s.stack, jsii.String("PageHeaders"), &awscloudfront.ResponseHeadersPolicyProps{
		Comment:                 jsii.String("prawn page: the headers internal/web sends locally"),
		SecurityHeadersBehavior: securityHeaders(pageCSP, true),
		CustomHeadersBehavior:   customHeaders(true),
	})
	api = awscloudfront.NewResponseHeadersPolicy(s.stack, jsii.String("ApiHeaders"), &awscloudfront.ResponseHeadersPolicyProps{
		Comment:                 jsii.String("prawn API: its own security headers where an answer lacks them"),
		SecurityHeadersBehavior: securityHeaders(apiCSP, false),
		CustomHeadersBehavior:   customHeaders(false),
	})
	tracker = awscloudfront.NewResponseHeadersPolicy(s.stack, jsii.String("TrackerHeaders"), &awscloudfront.ResponseHeadersPolicyProps{
		Comment:                 jsii.String("prawn tracker script: security headers, a day of browser cache, CORS"),
		SecurityHeadersBehavior: securityHeaders(apiCSP, true),
		CustomHeadersBehavior: customHeaders(true, &awscloudfront.ResponseCustomHeader{
			Header: jsii.String("Cache-Control"), Value: jsii.String(trackerCacheControl), Override: jsii.Bool(true),
		}),
		CorsBehavior: &awscloudfront.ResponseHeadersCorsBehavior{
			AccessControlAllowOrigins:     jsii.Strings("*"),
			AccessControlAllowMethods:     jsii.Strings("GET", "HEAD"),
			AccessControlAllowHeaders:     jsii.Strings("*"),
			AccessControlAllowCredentials: jsii.Bool(false),
			OriginOverride:                jsii.Bool(true),
		},
	})
	return page, api, tracker
}
