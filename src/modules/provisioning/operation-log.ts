import type { Orm } from '../../db/orm.ts';

const FLUSH_EVERY_MS = 2_000;
const MAX_LOG_BYTES = 4 * 1024 * 1024;

/**
 * An operation's terraform output (already redacted by the runner), appended to operations.log in batches so a
 * long apply shows progress without one UPDATE per line. Past 4 MiB the rest is dropped with a note.
 */
export class OperationLog {
  private readonly orm: Orm;
  private readonly operationId: string;
  private pending = '';
  private written = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(orm: Orm, operationId: string) {
    this.orm = orm;
    this.operationId = operationId;
  }

  append(text: string): void {
    if (this.written + this.pending.length > MAX_LOG_BYTES) return;
    this.pending += text;
    if (this.written + this.pending.length > MAX_LOG_BYTES) this.pending += '\n[log truncated at 4 MiB]\n';
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_EVERY_MS);
  }

  /**
   * Writes what is pending. Never rejects: a log write that fails (PostgreSQL restarting) keeps its text pending for
   * the next flush. A rejected timer flush used to be unhandled and crashed the whole worker process.
   */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    const text = this.pending;
    this.pending = '';
    if (text === '') return;
    try {
      await this.orm.em.getConnection().execute('update operations set log = log || ? where id = ?', [text, this.operationId]);
      this.written += text.length;
    } catch {
      this.pending = text + this.pending;
    }
  }
}
