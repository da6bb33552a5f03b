'use strict'

// The reference side of tests/modelsource/test_versions_differential.py.
// Reads JSON lines `[version, range]` from stdin and writes one JSON line per pair:
// `[satisfies, validRange]`, where `satisfies` is
// `semver.satisfies(version, range, {includePrerelease: true})` and `validRange` is
// `semver.validRange(range, {includePrerelease: true})` (null for an invalid range).
// One process answers a whole batch: starting node per pair would take minutes.

const semver = require('semver')

const options = { includePrerelease: true }

let input = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk) => {
  input += chunk
})
process.stdin.on('end', () => {
  const answers = []
  for (const line of input.split('\n')) {
    if (line === '') {
      continue
    }
    const [version, range] = JSON.parse(line)
    answers.push(JSON.stringify([
      semver.satisfies(version, range, options),
      semver.validRange(range, options),
    ]))
  }
  process.stdout.write(answers.join('\n') + '\n')
})
