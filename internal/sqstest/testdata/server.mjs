// Starts local-aws-sqs, a real SQS server (JSON and query protocols), on 127.0.0.1:PORT (argv[2],
// 0 picks a free port) and prints "listening PORT" once it accepts requests. It stops with its
// parent: when stdin closes (the Go test that started it ended) or on SIGTERM.
import { createSqsServer } from "local-aws-sqs";

const port = Number(process.argv[2] ?? 0);
const server = await createSqsServer({ port, hostname: "127.0.0.1", emulateQueueCreationLifecycle: false });
const addr = server.address();
console.log(`listening ${addr.port}`);
const stop = () => server.close(() => process.exit(0));
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
