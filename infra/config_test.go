package main

import (
	"strings"
	"testing"
)

// loadWith validates a configuration built from the fake assets plus settings.
func loadWith(t *testing.T, settings map[string]any) (*Config, error) {
	t.Helper()
	lambdaDir, frontendDir := fakeAssets(t)
	ctx := map[string]any{"region": "us-east-1", "alertEmail": "ops@example.com", "lambdaAssetDir": lambdaDir, "frontendDir": frontendDir}
	for k, v := range settings {
		if v == nil {
			delete(ctx, k)
		} else {
			ctx[k] = v
		}
	}
	return LoadConfig(func(key string) any { return ctx[key] })
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadWith(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DBInstanceClass != "t4g.micro" || c.DBStorageGB != 20 || c.PostgresMajor != 17 || !c.DeletionProtection ||
		c.RemovalPolicy != "snapshot" || c.BudgetUSD != 1 || c.RollupRateMinutes != 1 || c.DBAuth != DBAuthSecret || c.Bastion ||
		c.DBAppUser != "prawn_app" || c.OriginSecretGeneration != 1 || c.Ingest != IngestDirect || c.ConsumeConcurrency != 2 || c.ConsumeBatchSize != 1000 || c.ConsumeBatchWindowSeconds != 2 {
		t.Errorf("unexpected defaults: %+v", c)
	}
	if got := strings.Join(c.AvailabilityZones, ","); got != "us-east-1a,us-east-1b" {
		t.Errorf("availability zones %s", got)
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("PRAWN_ALERT_EMAIL", "env@example.com")
	t.Setenv("PRAWN_BUDGET_USD", "25")
	t.Setenv("CDK_DEFAULT_REGION", "eu-west-1")
	c, err := loadWith(t, map[string]any{"region": nil, "alertEmail": nil, "budgetUsd": nil})
	if err != nil {
		t.Fatal(err)
	}
	if c.AlertEmail != "env@example.com" || c.BudgetUSD != 25 || c.Region != "eu-west-1" {
		t.Errorf("environment ignored: %+v", c)
	}
	// Context wins over the environment.
	c, err = loadWith(t, map[string]any{"budgetUsd": float64(5)})
	if err != nil || c.BudgetUSD != 5 {
		t.Errorf("context budget 5: got %v, %v", c, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		settings map[string]any
		want     string
	}{
		{map[string]any{"region": nil}, "region \"\" is not an AWS region"},
		{map[string]any{"region": "mars"}, "is not an AWS region"},
		{map[string]any{"alertEmail": nil}, "alertEmail \"\" must be a plain e-mail address"},
		{map[string]any{"alertEmail": "Ops <ops@example.com>"}, "must be a plain e-mail address"},
		{map[string]any{"budgetUsd": "lots"}, "budgetUsd \"lots\" must be a number"},
		{map[string]any{"budgetUsd": 0}, "budgetUsd 0 must be between 1"},
		{map[string]any{"domainName": "not a domain"}, "domainName \"not a domain\" is not a valid DNS name"},
		{map[string]any{"certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"}, "certificateArn is set but domainName is not"},
		{map[string]any{"domainName": "x.example.org", "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"}, "must be an ACM certificate ARN in us-east-1"},
		{map[string]any{"dbInstanceClass": "t3.micro"}, "dbInstanceClass \"t3.micro\" is not supported"},
		{map[string]any{"dbStorageGb": 10}, "dbStorageGb 10 must be between 20 and 1000"},
		{map[string]any{"postgresVersion": 15}, "postgresVersion 15 must be 16 or 17"},
		{map[string]any{"backupRetentionDays": 0}, "backupRetentionDays 0 must be between 1 and 35"},
		{map[string]any{"removalPolicy": "keep"}, "removalPolicy \"keep\" must be snapshot, retain or destroy"},
		{map[string]any{"dbAuth": "password"}, "dbAuth \"password\" must be secret or iam"},
		{map[string]any{"deletionProtection": "maybe"}, "deletionProtection \"maybe\" must be true or false"},
		{map[string]any{"availabilityZones": "us-east-1a"}, "availabilityZones must name exactly 2 zones"},
		{map[string]any{"availabilityZones": "us-east-1a,eu-west-1b"}, "availability zone \"eu-west-1b\" is not in region \"us-east-1\""},
		{map[string]any{"logRetentionDays": 10}, "logRetentionDays 10 is not a CloudWatch Logs retention"},
		{map[string]any{"rollupRateMinutes": 0}, "rollupRateMinutes 0 must be between 1 and 480"},
		{map[string]any{"originSecretGeneration": 0}, "originSecretGeneration 0 must be between 1 and 1000000"},
		{map[string]any{"apiReservedConcurrency": 60}, "apiReservedConcurrency 60 x dbPoolSize 2 + rollup 2 + migrate 2 = 124 connections exceeds the 102 that db.t4g.micro allows"},
		// 48 x 2 + 2 + 2 = 100 fits the budget directly; the consumer's 2 x 2 does not.
		{map[string]any{"apiReservedConcurrency": 48, "ingest": "queue"}, "apiReservedConcurrency 48 x dbPoolSize 2 + rollup 2 + migrate 2 + consumeConcurrency 2 x 2 = 104 connections exceeds the 102 that db.t4g.micro allows: lower apiReservedConcurrency, dbPoolSize or consumeConcurrency"},
		{map[string]any{"ingest": "queue", "consumeConcurrency": 60}, "consumeConcurrency 60 x 2 = 164 connections exceeds"},
		{map[string]any{"ingest": "fifo"}, "ingest \"fifo\" must be direct or queue"},
		{map[string]any{"consumeConcurrency": 1}, "consumeConcurrency 1 must be between 2 and 1000"},
		{map[string]any{"consumeBatchSize": 20000}, "consumeBatchSize 20000 must be between 1 and 10000"},
		{map[string]any{"consumeBatchWindowSeconds": 0}, "consumeBatchSize 1000 needs consumeBatchWindowSeconds of at least 1"},
		{map[string]any{"consumeBatchWindowSeconds": 301}, "consumeBatchWindowSeconds 301 must be between 0 and 300"},
		{map[string]any{"dbAppUser": "prawn"}, "dbAppUser \"prawn\" must differ from the master user"},
		{map[string]any{"dbAppUser": "App-User"}, "dbAppUser \"App-User\" is not a valid PostgreSQL role name"},
		{map[string]any{"lambdaAssetDir": "/nonexistent"}, "run `make lambda` first"},
		{map[string]any{"frontendDir": "/nonexistent"}, "run `make frontend` first"},
	} {
		_, err := loadWith(t, tc.settings)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("settings %v: error %v, want it to contain %q", tc.settings, err, tc.want)
		}
	}
}

func TestConfigQueueBudget(t *testing.T) {
	// The same api settings that the queue mode refuses above fit without the consumer.
	c, err := loadWith(t, map[string]any{"apiReservedConcurrency": 48})
	if err != nil || c.PeakConnections() != 100 {
		t.Fatalf("direct: %v, %v; want 100 connections", c, err)
	}
	c, err = loadWith(t, map[string]any{"ingest": "queue", "consumeBatchSize": 10, "consumeBatchWindowSeconds": 0})
	if err != nil || c.PeakConnections() != 20*2+2+2+2*2 {
		t.Fatalf("queue: %v, %v; want 48 connections (batches of 10 need no window)", c, err)
	}
}

func TestConfigReportsEveryError(t *testing.T) {
	_, err := loadWith(t, map[string]any{"region": nil, "alertEmail": nil, "lambdaAssetDir": "/nonexistent"})
	if err == nil || strings.Count(err.Error(), "\n") < 3 {
		t.Errorf("want all three problems listed, got %v", err)
	}
}

func TestConnectionBudget(t *testing.T) {
	// LEAST({DBInstanceClassMemory/9531392}, 5000) minus 5 reserved and 5 operator slots.
	for class, want := range map[string]int{"t4g.micro": 112, "t4g.small": 225, "t4g.medium": 450} {
		if got := MaxConnections(dbInstanceMemoryBytes[class]); got != want {
			t.Errorf("max_connections(%s) = %d, want %d", class, got, want)
		}
	}
	if got := ConnectionBudget(1 << 30); got != 102 {
		t.Errorf("budget of 1 GiB = %d, want 102", got)
	}
	if MaxConnections(1<<40) != 5000 {
		t.Error("max_connections is capped at 5000")
	}
}
