using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Klais.Xdp.Native;

namespace Klais.Xdp.Tests.Native;

/// <summary>
/// Every C# mirror of bpf/klais_structs.h has the size and field offsets the compiled object's BTF says (read with
/// libbpf's btf__* API from the embedded object; no kernel involved). Fields map by name: C snake_case is C#
/// PascalCase, a leading underscore (padding) dropped.
/// </summary>
public sealed class BpfStructLayoutTests
{
    public static TheoryData<string, Type> Mirrors() => new()
    {
        { "klais_block", typeof(KlaisBlock) },
        { "klais_bucket", typeof(KlaisBucket) },
        { "klais_limit", typeof(KlaisLimit) },
        { "klais_params", typeof(KlaisParams) },
        { "klais_stat_value", typeof(KlaisStatValue) },
        { "klais_event_budget", typeof(KlaisEventBudget) },
        { "klais_event", typeof(KlaisEvent) },
    };

    [Theory]
    [MemberData(nameof(Mirrors))]
    public void Mirror_matches_the_btf_of_the_compiled_object(string cName, Type mirror)
    {
        BtfStruct btf = BpfObjectImage.FindStruct(BpfObjectImage.Embedded(), cName)
            ?? throw new Xunit.Sdk.XunitException($"struct {cName} is not in the object's BTF");

        FieldInfo[] fields = mirror.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        Assert.Equal(btf.Size, SizeOf(mirror));
        Assert.Equal(btf.Members.Select(m => PascalCase(m.Name)), fields.Select(f => f.Name));
        foreach (BtfMember member in btf.Members)
        {
            FieldInfo field = fields.Single(f => f.Name == PascalCase(member.Name));
            Assert.True(member.Offset == (int)Marshal.OffsetOf(mirror, field.Name), $"{cName}.{member.Name}: BTF offset {member.Offset}, C# {Marshal.OffsetOf(mirror, field.Name)}");
            Assert.True(member.Size == SizeOf(field.FieldType), $"{cName}.{member.Name}: BTF size {member.Size}, C# {SizeOf(field.FieldType)}");
        }
    }

    [Fact]
    public void Every_struct_of_the_header_has_a_mirror()
    {
        string header = File.ReadAllText(FindRepoFile("bpf/klais_structs.h"));
        string[] declared = System.Text.RegularExpressions.Regex.Matches(header, @"^struct (klais_\w+) \{", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).ToArray();

        Assert.Equal(declared.Order(), Mirrors().Select(row => (string)row[0]).Order());
    }

    private static int SizeOf(Type type) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;

    private static string PascalCase(string cName) =>
        string.Concat(cName.Split('_', StringSplitOptions.RemoveEmptyEntries).Select(part => char.ToUpperInvariant(part[0]) + part[1..]));

    private static string FindRepoFile(string relative)
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, relative)))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir is null ? throw new FileNotFoundException(relative) : Path.Combine(dir, relative);
    }
}
