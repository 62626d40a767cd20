// Renders each case of cases.json (argv[2]) with badge-maker, shields.io's own renderer, and
// prints them with their SVGs as JSON. Run by ../update.sh in a folder where badge-maker is installed.
import { readFileSync } from 'node:fs';
import { makeBadge } from 'badge-maker';

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = cases.map((c) => ({ ...c, svg: makeBadge({ label: c.label, message: c.message, color: c.color, style: c.style }) }));
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
