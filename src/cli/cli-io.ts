/** Where a command writes: standard output and error, injected so tests capture them. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}
