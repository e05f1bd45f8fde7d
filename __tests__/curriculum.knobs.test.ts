/** Scalar and categorical knob schedules over training progress. */
import { knobSchedule, knobTable, knobTableToCsv } from '../lib/curriculum/knobs';
import { expectValidation } from './helpers/expect-errors';

describe('knob schedules', () => {
  const knots = [{ tokens: 100, value: 8 }, { tokens: 1100, value: 2 }];
  test('shapes between knots, clamped outside', () => {
    const lin = knobSchedule({ knots });
    expect(lin.at(0)).toBe(8);
    expect(lin.at(600)).toBeCloseTo(5, 14);
    expect(lin.at(5000)).toBe(2);
    const cos = knobSchedule({ knots, shape: 'cosine' });
    expect(cos.at(600)).toBeCloseTo(5, 14);
    expect(cos.at(350)).toBeCloseTo(8 - 6 * (1 - Math.cos(Math.PI / 4)) / 2, 14);
    const ex = knobSchedule({ knots, shape: 'exponential' });
    expect(ex.at(600)).toBeCloseTo(4, 13);
    const step = knobSchedule({ knots, shape: 'step' });
    expect(step.at(1099)).toBe(8);
    expect(step.at(1100)).toBe(2);
    const log = knobSchedule({ knots: [{ tokens: 10, value: 0 }, { tokens: 1000, value: 1 }], axis: 'logTokens' });
    expect(log.at(100)).toBeCloseTo(0.5, 14);
    const int = knobSchedule({ knots, integer: true });
    expect(int.at(601)).toBe(5);
  });

  test('categorical knobs step; fractions resolve against totalTokens; per-step tables and CSV', () => {
    const teacher = knobSchedule({ kind: 'categorical', knots: [{ fraction: 0, value: 'small' }, { fraction: 0.5, value: 'large' }] }, 1000);
    expect(teacher.at(499)).toBe('small');
    expect(teacher.at(500)).toBe('large');
    const t = knobTable(teacher, 4, 300);
    expect(t.value).toEqual(['small', 'small', 'large', 'large']);
    expect(knobTableToCsv(t, 'teacher')).toBe('step,tokens,teacher\n0,0,"small"\n1,300,"small"\n2,600,"large"\n3,900,"large"\n');
  });

  test('bad input names the field', () => {
    expectValidation(() => knobSchedule({ knots: [] }), 'knots', /knots/);
    expectValidation(() => knobSchedule({ knots: [{ tokens: 5, value: 1 }, { tokens: 5, value: 2 }] }), 'knots[1]', /strictly increasing/);
    expectValidation(() => knobSchedule({ knots: [{ value: 1 }] }), 'knots[0]', /exactly one of/);
    expectValidation(() => knobSchedule({ knots: [{ fraction: 0.5, value: 1 }] }), 'totalTokens', /totalTokens/);
    expectValidation(() => knobSchedule({ knots: [{ tokens: 1, value: 'a' }] }), 'knots[0].value', /scalar/);
    expectValidation(() => knobSchedule({ knots: [{ tokens: 1, value: NaN }] }), 'knots[0].value', /value/);
    expectValidation(() => knobSchedule({ knots: [{ tokens: 1, value: 1 }, { tokens: 2, value: -1 }], shape: 'exponential' }), 'knots[1].value', /one sign/);
    expectValidation(() => knobSchedule({ knots: [{ tokens: 0, value: 1 }], axis: 'logTokens' }), 'knots[0]', /positive/);
    expectValidation(() => knobSchedule({ knots, shape: 'quadratic' as never }), 'shape', /shape/);
    expectValidation(() => knobTable(knobSchedule({ knots }), 0, 10), 'steps', /positive integer/);
  });
});
