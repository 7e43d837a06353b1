/**
 * One entry of the Appendix A table test: the spec's wording (operation, condition, result) as
 * its name, and either a check or the precise reason it cannot be reached in the model.
 */
export interface Row {
  readonly name: string;
  readonly run?: () => void;
  readonly skip?: string;
}

/** "operation: condition → result", optionally tagged with the revision it checks. */
export function rowName(op: string, condition: string, result: string, rev?: string): string {
  return `${op}: ${condition} → ${result}${rev === undefined ? '' : ` [${rev}]`}`;
}
