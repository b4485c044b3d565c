/** piscina and tinypool task module: the default export runs once per task. */
export default function echo(value: unknown): unknown {
  return value
}
