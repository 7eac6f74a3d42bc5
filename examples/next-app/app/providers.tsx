'use client';
import { TidewireProvider } from '@tidewire/react';
import type { ReactNode } from 'react';
import { client } from './tidewire';

export function Providers({ children }: { children: ReactNode }) {
  return <TidewireProvider client={client}>{children}</TidewireProvider>;
}
