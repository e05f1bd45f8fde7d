#!/usr/bin/env node
// Token-budget curriculum: the reasoning budget starts generous (16k tokens),
// holds for the first 20% of training, then tightens along a cosine to 2k.
// Writes the per-step budget table as CSV and JSON.
//   node examples/curricula/token-budget.js [outDir] [steps] [tokensPerStep]
'use strict';
const fs = require('fs');
const path = require('path');
const { knobSchedule, knobTable, knobTableToCsv } = require('../../dist/lib/index.js');

const outDir = process.argv[2] || path.join(__dirname, '..', 'out', 'curricula');
const steps = Number(process.argv[3] || 1000);
const tokensPerStep = Number(process.argv[4] || 2048 * 512);
fs.mkdirSync(outDir, { recursive: true });

const spec = JSON.parse(fs.readFileSync(path.join(__dirname, 'token-budget.json'), 'utf8'));
const budget = knobSchedule(spec, steps * tokensPerStep);
const table = knobTable(budget, steps, tokensPerStep);
fs.writeFileSync(path.join(outDir, 'token-budget.csv'), knobTableToCsv(table, spec.name));
fs.writeFileSync(path.join(outDir, 'token-budget.json'), JSON.stringify({ name: spec.name, ...table }) + '\n');

const at = (f) => table.value[Math.min(steps - 1, Math.floor(f * steps))];
console.log(`${spec.name}: step 0 ${at(0)}, 25% ${at(0.25)}, 50% ${at(0.5)}, 75% ${at(0.75)}, last ${at(1)} tokens`);
console.log(`wrote ${path.join(outDir, 'token-budget.csv')} and token-budget.json (${steps} steps)`);
