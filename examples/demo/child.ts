// A child process: exposes a nested API to its parent and emits progress events.
import { callContext, connectParent } from 'treerpc'

const api = {
  math: {
    vector: { norm: (v: number[]) => Math.hypot(...v) },
  },
  jobs: {
    async crunch(steps: number) {
      const { signal } = callContext() // read before the first await
      for (let i = 1; i <= steps; i++) {
        if (signal.aborted) throw new Error('crunch aborted')
        await new Promise((resolve) => setTimeout(resolve, 20))
        parent.emit('progress', i, steps)
      }
      return 'done'
    },
  },
  crash: () => process.exit(3),
  pid: () => process.pid,
}

export type ChildApi = typeof api

const parent = connectParent({ expose: api })
