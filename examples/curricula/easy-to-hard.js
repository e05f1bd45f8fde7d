#!/usr/bin/env node
// Easy-to-hard curriculum with progressive teachers (CLPD-style).
// Difficulty buckets are the groups; the mixture moves from the easy buckets
// to the hard ones over training (logits linear in log tokens), and a teacher
// index steps up at set fractions of training. Writes the curriculum, its
// target table for the scheduler, the per-step teacher table, and a plot.
//   node examples/curricula/easy-to-hard.js [outDir]
'use strict';
const fs = require('fs');
const path = require('path');
const {
  createCurriculum, mixtureAt, writeCurriculum, targetTable, knobSchedule, knobTable, knobTableToCsv,
} = require('../../dist/lib/index.js');
const { curriculumPlotSvg } = require('../../dist/lib/curriculum/plot.js');

async function main() {
  const outDir = process.argv[2] || path.join(__dirname, '..', 'out', 'curricula');
  fs.mkdirSync(outDir, { recursive: true });
  const totalTokens = 1e9;
  const names = ['easy', 'medium', 'hard', 'harder', 'hardest'];
  const K = names.length;
  // Knots at 1e6, 1e7, 1e8 and 1e9 tokens; at knot i the logit of bucket d is
  // alpha_i * (d - centre_i): the centre walks from the easiest to the hardest bucket.
  const knots = [1e6, 1e7, 1e8, 1e9];
  const c = createCurriculum({ groups: K, knotTokens: knots, names });
  knots.forEach((_, i) => {
    const centre = (i / (knots.length - 1)) * (K - 1);
    for (let d = 0; d < K; d++) c.logits[i * K + d] = -0.5 * (d - centre) ** 2;
  });
  writeCurriculum(path.join(outDir, 'easy-to-hard.curriculum.json'), c);

  // What the scheduler consumes: E_k at integer grid points (interpolation within 0.5 tokens).
  const table = targetTable(c, totalTokens);
  const last = table.tokens.length - 1;
  fs.writeFileSync(
    path.join(outDir, 'easy-to-hard.targets.json'),
    JSON.stringify({ names, tokens: Array.from(table.tokens), final: Array.from(table.cumulative.subarray(last * K)) }) + '\n',
  );

  // Progressive teachers: index 0 until 40% of training, 1 until 75%, then 2.
  const teacher = knobSchedule(
    { name: 'teacher', kind: 'categorical', knots: [{ fraction: 0, value: 0 }, { fraction: 0.4, value: 1 }, { fraction: 0.75, value: 2 }] },
    totalTokens,
  );
  const steps = 500;
  const perStep = totalTokens / steps;
  fs.writeFileSync(path.join(outDir, 'easy-to-hard.teacher.csv'), knobTableToCsv(knobTable(teacher, steps, perStep), 'teacher'));
  fs.writeFileSync(path.join(outDir, 'easy-to-hard.svg'), await curriculumPlotSvg(c, { minTokens: 3e5, maxTokens: 3e9 }));

  for (const f of [0.001, 0.01, 0.1, 1]) {
    const p = mixtureAt(c, f * totalTokens);
    const top = Array.from(p).map((x, d) => `${names[d]} ${(100 * x).toFixed(1)}%`).join(', ');
    console.log(`${(f * totalTokens).toExponential(0)} tokens (teacher ${teacher.at(f * totalTokens)}): ${top}`);
  }
  console.log(`target table: ${table.tokens.length} grid points; final tokens per bucket ${Array.from(table.cumulative.subarray(last * K)).map((x) => Math.round(x)).join(', ')}`);
  console.log(`wrote ${outDir}/easy-to-hard.{curriculum.json,targets.json,teacher.csv,svg}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
