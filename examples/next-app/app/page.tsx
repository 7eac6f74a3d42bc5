import { Live } from './live';

// A server component: rendered on the server, with the live part rendered on the server as
// `idle` and subscribed in the browser after hydration.
export default function Page() {
  return (
    <main>
      <h1>Tidewire with Next.js</h1>
      <Live />
    </main>
  );
}
