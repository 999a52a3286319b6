using System.Net;
using BenchmarkDotNet.Attributes;
using Klais.Contracts.Wire;
using Klais.Net;

namespace Klais.Benchmarks;

/// <summary>
/// The receive path on one thread: 64 datagrams sent with one sendmmsg to a loopback socket, taken with one
/// recvmmsg and parsed (JSON validated). Budget: 0 bytes allocated per operation.
/// </summary>
[MemoryDiagnoser]
public class ReceiveBenchmarks
{
    private const int Batch = 64;
    private UdpSocket? _receiver;
    private UdpSocket? _sender;
    private ReceiveBatch? _receive;
    private SendBatch? _send;

    [GlobalSetup]
    public void Setup()
    {
        _receiver = UdpSocket.Bind(
            new IPEndPoint(IPAddress.Loopback, 0),
            new UdpSocketOptions { ReceiveBufferBytes = 8 * 1024 * 1024, ReceiveTimeout = TimeSpan.FromSeconds(1) });
        _sender = UdpSocket.Connect(_receiver.LocalEndPoint, new UdpSocketOptions { ReportKernelDrops = false });
        _receive = new ReceiveBatch(Batch, 2048);
        _send = new SendBatch(Batch, 2048);
        byte[] payload = "{\"t\":21.5,\"h\":40,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}"u8.ToArray();
        for (int i = 0; i < Batch; i++)
        {
            int length = Datagram.Write(_send.GetBuffer(i), "dev-000001"u8, (uint)i, payload);
            _send.SetLength(i, length);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _receive?.Dispose();
        _send?.Dispose();
        _sender?.Dispose();
        _receiver?.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "sendmmsg 64 + recvmmsg + TryParse, per datagram")]
    public long SendReceiveParse()
    {
        ReceiveBatch receive = _receive!;
        SendBatch send = _send!;
        int first = 0;
        while (first < Batch)
        {
            send.Send(_sender!, first, Batch - first, out int sent);
            first += sent;
        }

        long sequences = 0;
        int received = 0;
        while (received < Batch)
        {
            int count = receive.Receive(_receiver!);
            for (int i = 0; i < count; i++)
            {
                if (Datagram.TryParse(receive[i], 1024, validateJson: true, out DatagramHeader header, out _) == Rejection.None)
                {
                    sequences += header.Sequence;
                }
            }

            received += count;
        }

        return sequences;
    }
}
