// Every section of the console, in navigation order: one line each. Adding a section is a
// folder console/src/sections/<id>/ with section.ts, and a line here.
import type { Section } from './types';
import { section as home } from './home/section';
import { section as insights } from './insights/section';
import { section as customers } from './customers/section';
import { section as account } from './account/section';
import { section as operations } from './operations/section';
import { section as access } from './access/section';

export const sections: Section[] = [
  home,
  insights,
  customers,
  access,
  operations,
  account,
];
