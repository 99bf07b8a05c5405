// What a command module and the command line's registry (cli/main.ts) agree on: a command's
// context, its runner and its usage text. Commands import this file, never main.ts (which loads
// them), so the two never need each other.

export interface CommandContext {
  readonly argv: readonly string[];
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A command returns its exit code. */
export type CommandRun = (ctx: CommandContext) => Promise<number>;

/** What a command module exports: its runner and its usage text (printed for --help / -h). */
export interface CommandModule {
  readonly run: CommandRun;
  readonly USAGE: string;
}
