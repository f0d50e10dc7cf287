import Link from 'next/link';

export default function NotFound() {
  return (
    <div className="py-8">
      <h1 className="text-xl font-semibold">Page not found</h1>
      <p className="mt-2 text-sm">
        <Link className="text-blue-800 underline" href="/">Back to campaigns</Link>
      </p>
    </div>
  );
}
