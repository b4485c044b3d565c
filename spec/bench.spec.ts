import { expect } from 'chai'
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const benchRun = join(dirname(fileURLToPath(import.meta.url)), '..', 'bench', 'run.js')

describe('the benchmark suite', () => {
  // Proves only that every contender still starts, answers and stops: the numbers of a smoke run
  // mean nothing, and no timing is judged here (bench/RESULTS.md is where speed is judged).
  it('runs every contender in smoke mode and exits by itself with code 0', async function () {
    this.timeout(120_000)
    const { stdout } = await run(process.execPath, ['--expose-gc', benchRun, '--smoke', '--no-pin'], { timeout: 110_000 })
    expect(stdout).to.contain('treerpc spawnWorker')
    expect(stdout).to.contain('piscina')
    expect(stdout).not.to.match(/\berror\b.*treerpc/i)
  })
})
