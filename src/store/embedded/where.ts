/** A WHERE clause built from the filter fields that are set; the values go as parameters, never into the SQL. */
export class Where {
  private readonly parts: string[] = [];
  readonly args: unknown[] = [];

  /** A condition with one `?`, kept only when the value is given. */
  is(condition: string, value: unknown): this {
    if (value !== undefined) {
      this.parts.push(condition);
      this.args.push(value);
    }
    return this;
  }

  /** `column IN (…)` for one value or several (an empty list matches nothing). */
  anyOf(column: string, value: string | readonly string[] | undefined): this {
    if (value === undefined) return this;
    const values = typeof value === 'string' ? [value] : value;
    this.parts.push(`${column} IN (${values.map(() => '?').join(', ') || 'NULL'})`);
    this.args.push(...values);
    return this;
  }

  get sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}
