/**
 * The engine's execution loop: deterministic runs, deadlock detection that names what each task
 * waits for, model assertions and crashes captured as outcomes, choose() answered by the
 * decider, the step limit reported as an outcome, and decisions recorded only where there was
 * a choice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Execution, choose, guardedOp, op, type Decider, type Sched } from '../../src/sim/index.ts';

const firstDecider: Decider = { pickTask: (_e, _c, d) => d, pickChoice: () => 0 };

function run(build: (ex: Execution) => void, decider = firstDecider, stepsMax = 1000) {
  const ex = new Execution(decider, { stepsMax, trace: true });
  build(ex);
  return ex.run();
}

test('tasks run to completion; every visible operation is a step', () => {
  const r = run((ex) => {
    ex.spawn('a', function* () {
      yield op('a1');
      yield op('a2');
    });
    ex.spawn('b', function* () {
      yield op('b1');
    });
  });
  assert.equal(r.outcome.kind, 'complete');
  // 2 start operations + 3 operations.
  assert.equal(r.steps, 5);
  const labels = r.events.flatMap((e) => (e.kind === 'op' ? [`${e.task}:${e.label}`] : []));
  assert.deepEqual(labels, ['0:start', '0:a1', '0:a2', '1:start', '1:b1']);
});

test('deadlock: every blocked task is named with what it waits for', () => {
  const r = run((ex) => {
    ex.spawn('waiter', function* (): Sched {
      yield guardedOp(
        'wait',
        [],
        () => false,
        () => 'a flag nobody sets',
      );
    });
  });
  assert.deepEqual(r.outcome, {
    kind: 'deadlock',
    blocked: [{ task: 'waiter', waitsFor: 'a flag nobody sets' }],
  });
});

test('a model assertion ends the execution and names the task', () => {
  const r = run((ex) => {
    ex.spawn('bad', function* () {
      yield op('x');
      ex.fail('invariant broken');
    });
  });
  assert.deepEqual(r.outcome, { kind: 'assertion', task: 'bad', message: 'invariant broken' });
});

test('any other exception is a crash of the model', () => {
  const r = run((ex) => {
    ex.spawn('oops', function* () {
      yield op('x');
      throw new TypeError('bug in model');
    });
  });
  assert.deepEqual(r.outcome, { kind: 'crash', task: 'oops', message: 'bug in model' });
});

test('choose() is answered by the decider and recorded as a decision', () => {
  let seen = -1;
  const r = run(
    (ex) => {
      ex.spawn('c', function* () {
        seen = yield* choose(3, 'fault');
      });
    },
    { pickTask: (_e, _c, d) => d, pickChoice: (n) => n - 1 },
  );
  assert.equal(seen, 2);
  assert.deepEqual(r.decisions, [{ kind: 'choose', value: 2, dflt: 0 }]);
});

test('the step limit is an outcome, not a hang', () => {
  const r = run(
    (ex) => {
      ex.spawn('spin', function* () {
        for (;;) yield op('spin');
      });
    },
    firstDecider,
    50,
  );
  assert.deepEqual(r.outcome, { kind: 'step-limit', stepsMax: 50 });
  assert.equal(r.steps, 50);
});

test('preemptions are counted when a runnable task is switched away from', () => {
  const alternate: Decider = {
    pickTask: (enabled, current) => enabled.find((t) => t !== current) ?? (enabled[0] as number),
    pickChoice: () => 0,
  };
  const r = run((ex) => {
    for (const n of ['a', 'b'])
      ex.spawn(n, function* () {
        yield op(`${n}1`);
      });
  }, alternate);
  // start(a) -> start(b) preempts a -> a1 preempts b -> b1 (a finished: no preemption).
  assert.equal(r.preemptions, 2);
  assert.equal(r.decisions.length, 3);
});

test('without tracing nothing is recorded, and the run is the same', () => {
  const build = (ex: Execution) => {
    ex.spawn('a', function* () {
      yield op('a1');
    });
  };
  const ex = new Execution(firstDecider, { stepsMax: 10, trace: false });
  build(ex);
  const r = ex.run();
  assert.equal(r.events.length, 0);
  assert.equal(r.steps, run(build).steps);
});

test('solo holds exactly while the running task is the only live task', () => {
  const seen: string[] = [];
  const r = run((ex) => {
    ex.spawn('parent', function* () {
      yield op('p1');
      seen.push(`alone:${ex.solo}`);
      ex.spawn('child', function* () {
        seen.push(`child:${ex.solo}`);
        yield op('c1');
        seen.push('child-done');
      });
      seen.push(`after-spawn:${ex.solo}`);
      // Wait for the child to end; the parent is then alone again.
      yield guardedOp(
        'join',
        [],
        () => seen.includes('child-done'),
        () => 'the child',
      );
      seen.push(`joined:${ex.solo}`);
    });
    assert.equal(ex.solo, false, 'setup runs outside any task');
  });
  assert.equal(r.outcome.kind, 'complete');
  assert.deepEqual(seen, [
    'alone:true',
    'after-spawn:false',
    'child:false',
    'child-done',
    'joined:true',
  ]);
});

test('a prologue runs one task alone before run(); it may not choose or spawn', () => {
  const seen: string[] = [];
  const ex = new Execution(firstDecider, { stepsMax: 100, trace: true });
  const out = ex.prologue('setup', function* () {
    yield op('s1');
    seen.push(`solo:${ex.solo}`);
    yield op('s2');
  });
  assert.equal(out, null);
  ex.spawn('t', function* () {
    yield op('t1');
  });
  const r = ex.run();
  assert.equal(r.outcome.kind, 'complete');
  assert.deepEqual(seen, ['solo:true']);
  const labels = r.events.flatMap((e) => (e.kind === 'op' ? [`${e.task}:${e.label}`] : []));
  assert.deepEqual(labels, ['0:start', '0:s1', '0:s2', '1:start', '1:t1']);
  assert.equal(r.decisions.length, 0);

  const chooser = new Execution(firstDecider, { stepsMax: 100, trace: false });
  const bad = chooser.prologue('setup', function* () {
    yield* choose(2, 'which');
  });
  if (bad?.kind !== 'assertion') assert.fail(`expected an assertion, got ${bad?.kind}`);
  assert.match(bad.message, /must be deterministic/);
  assert.deepEqual(chooser.run().outcome, bad, 'run() reports how the prologue ended');

  const spawner = new Execution(firstDecider, { stepsMax: 100, trace: false });
  const bad2 = spawner.prologue('setup', function* () {
    yield op('s1');
    spawner.spawn('child', function* () {});
  });
  if (bad2?.kind !== 'assertion') assert.fail(`expected an assertion, got ${bad2?.kind}`);
  assert.match(bad2.message, /spawn\(child\) in a prologue/);
});

test('adopt continues from another execution after its prologue', () => {
  const a = new Execution(firstDecider, { stepsMax: 100, trace: false });
  a.newObject('x');
  const box = a.local(Symbol.for('test.box'), () => ({ n: 1 }));
  a.prologue('setup', function* () {
    yield op('s1');
    box.n = 2;
  });
  const b = new Execution(firstDecider, { stepsMax: 100, trace: false });
  b.adopt(a, structuredClone(a.storedValues()));
  assert.equal(b.objectName(0), 'x');
  assert.equal(b.newObject('y'), 1, 'object ids continue');
  const copy = b.local(Symbol.for('test.box'), () => ({ n: 0 }));
  assert.equal(copy.n, 2);
  assert.notEqual(copy, box);
  b.spawn('t', function* () {
    yield op('t1');
  });
  const r = b.run();
  assert.equal(r.steps, 2 + 2, 'the prologue steps count');
  assert.deepEqual(r.taskNames, ['setup', 't']);
  assert.throws(() => {
    b.adopt(a, a.storedValues());
  }, /already has state/);
});
