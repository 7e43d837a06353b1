/**
 * Errors the engine understands.
 *
 * A model assertion is a condition the modelled code promises never to reach (a WARN, a BUG, a
 * lock released by a task that does not hold it). Thrown from inside a task, it ends the
 * execution and is reported as a violation with the schedule that reached it. Any other
 * exception thrown by a task is reported as a crash of the model itself.
 */
export class ModelAssertion extends Error {
  override readonly name = 'ModelAssertion';
}

/** A replay token asked for a decision that the execution does not offer. */
export class ReplayDiverged extends Error {
  override readonly name = 'ReplayDiverged';
}

/** Bad input handed to the engine by a user (a malformed token, a bad parameter). */
export class InputError extends Error {
  override readonly name = 'InputError';
}
