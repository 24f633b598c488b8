/** The first line of an error's message (its name when empty), or the thrown value as text: for one-line reports. */
export function firstLine(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.message.split('\n')[0]?.trim() || error.name;
}
