#!/usr/bin/env node
import { runCli } from '../client/cli/main.js';

process.exitCode = await runCli(process.argv);
