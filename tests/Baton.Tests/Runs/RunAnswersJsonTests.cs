using System.Collections;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Baton.Client;
using Baton.Runs;

namespace Baton.Tests.Runs;

/// <summary>
/// The runs list and a run's detail are written by source-generated serializers (<see cref="RunAnswersJson"/>); they
/// must write exactly what the API's own options write, member for member, whatever members the records grow.
/// </summary>
public sealed class RunAnswersJsonTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_run_detail_is_written_as_the_api_options_write_it(bool everyOptionalMember)
    {
        var generated = WrittenAlike(RunAnswersJson.Default.RunDetail, everyOptionalMember);

        Assert.Contains("\"step_timestamps\":{\"Phase One\":", generated, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_runs_list_is_written_as_the_api_options_write_it(bool everyOptionalMember)
    {
        var generated = WrittenAlike(RunAnswersJson.Default.RunList, everyOptionalMember);

        Assert.Contains("\"parent_run_id\":", generated, StringComparison.Ordinal);
    }

    /// <summary>What the generated serializer writes of a sample, once it is the same as what the API's options write.</summary>
    private static string WrittenAlike<T>(JsonTypeInfo<T> generated, bool everyOptionalMember)
    {
        var sample = (T)Sample(typeof(T), everyOptionalMember, typeof(T).Name)!;
        var written = JsonSerializer.Serialize(sample, generated);
        Assert.Equal(JsonSerializer.Serialize(sample, BatonJson.Options), written);
        return written;
    }

    /// <summary>
    /// A value of <paramref name="type"/> with every member set: records through their constructor, lists of two,
    /// dictionaries of one entry, and optional members null unless <paramref name="optional"/>.
    /// </summary>
    private static object? Sample(Type type, bool optional, string name)
    {
        var nullable = Nullable.GetUnderlyingType(type);
        if (nullable is not null)
        {
            return optional ? Sample(nullable, optional, name) : null;
        }
        if (type == typeof(string))
        {
            return $"{name} \"é\" <&> 𝄞";
        }
        if (type == typeof(int) || type == typeof(long))
        {
            return Convert.ChangeType(name.Length * 7, type, System.Globalization.CultureInfo.InvariantCulture);
        }
        if (type == typeof(decimal))
        {
            return 12.3400m + name.Length;
        }
        if (type == typeof(bool))
        {
            return true;
        }
        if (type == typeof(DateTimeOffset))
        {
            return new DateTimeOffset(2026, 12, 7, 17, 11, 58, 123, TimeSpan.FromHours(name.Length % 3));
        }
        if (type == typeof(JsonElement))
        {
            return JsonDocument.Parse("""{"Mixed Case":[1,"two",null,{"x":2.50}]}""").RootElement.Clone();
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>))
        {
            var element = type.GetGenericArguments()[0];
            var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(element))!;
            list.Add(Sample(element, optional, name + "1"));
            list.Add(Sample(element, optional, name + "2"));
            return list;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>))
        {
            var value = type.GetGenericArguments()[1];
            var dictionary = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(typeof(string), value))!;
            dictionary.Add("Phase One", Sample(value, optional, name + "v"));
            return dictionary;
        }
        var constructor = type.GetConstructors().Single();
        var context = new NullabilityInfoContext();
        var args = constructor.GetParameters().Select(p =>
            !optional && (context.Create(p).WriteState == NullabilityState.Nullable || p.HasDefaultValue) && !p.ParameterType.IsValueType
                ? null
                : Sample(p.ParameterType, optional, p.Name!)).ToArray();
        return constructor.Invoke(args);
    }
}
